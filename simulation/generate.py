"""Generate a whole organisation: collector files, Compliance records and ground truth."""

from __future__ import annotations

import heapq
import json
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from simulation.behaviour import WORKDAY_START_HOUR, Event, simulate_person_day
from simulation.collector import (
    FileFormat,
    MetricsState,
    RotatingFileWriter,
    log_writes,
    metric_writes,
)
from simulation.compliance import ComplianceRecorder
from simulation.ground_truth import NANO, GroundTruth
from simulation.organisation import build_organisation, plant_cost_spike, plant_quirks


@dataclass(frozen=True)
class GenerationResult:
    """What a generation wrote, and how fast."""

    output_dir: str
    otel_dir: str
    users: int
    days: int
    start_date: str
    end_date: str
    events: int
    lines: int
    files: int
    bytes: int
    total_cost_usd: str
    seconds: float

    @property
    def events_per_second(self) -> float:
        """Generation throughput."""
        return self.events / self.seconds if self.seconds else 0.0


def generate(
    output_dir: Path,
    *,
    seed: int = 7,
    users: int = 50,
    days: int = 14,
    end_date: date | None = None,
    rotate_megabytes: float = 16.0,
    file_format: FileFormat | None = None,
    claude_code_share: float = 0.2,
    plant_anomaly: bool = True,
    otel: bool = True,
    compact_records: bool = False,
) -> GenerationResult:
    """Simulate `users` people over the `days` days ending on `end_date` (default: today, UTC).

    Ending today means ending now: the rest of today has not happened yet. Writes
    `otel/logs.jsonl` (+ rotated `logs-<ts>.jsonl`) and `otel/metrics.jsonl` (other suffixes
    for other `file_format`s), `compliance/*.json`, and `ground_truth/*.csv` under
    `output_dir`. The same seed, dates and format give identical files. Periods of
    `COST_SPIKE_MIN_DAYS` or more get one planted cost spike unless `plant_anomaly` is
    false (a flat organisation); `ground_truth/planted_anomalies.csv` lists it. `otel` false
    writes no collector files, only `compliance/` and `ground_truth/` (all the billing view
    reads): the same records, in about a quarter of the time. `compact_records` writes the
    log records in the compact shape (`simulation.collector.log_writes`): fixed messages of
    64 records with fewer attributes, for landing benchmarks (the marts of such files are
    not compared with the ground truth: team tags and workspaces are left out).

    Returns:
        A summary with counts and the generation rate.
    """
    started = time.perf_counter()
    ends_now = end_date is None
    now = datetime.now(UTC)
    end_date = end_date or now.date()
    start_date = end_date - timedelta(days=days - 1)
    rng = random.Random(seed)
    organisation = build_organisation(rng, users, claude_code_share=claude_code_share)
    # A stream of its own, so planting quirks leaves every other draw as it was.
    plant_quirks(organisation, random.Random(f"{seed}:quirks"), start_date, days)
    if plant_anomaly:
        plant_cost_spike(organisation, random.Random(f"{seed}:cost-spike"), start_date, days)
    truth = GroundTruth(organisation)
    compliance = ComplianceRecorder(organisation, seed)
    file_format = file_format or FileFormat()
    otel_dir = output_dir / "otel"
    writer = metrics_writer = None
    if otel:
        writer = RotatingFileWriter(
            otel_dir / f"logs{file_format.suffix}", rotate_megabytes, file_format
        )
        metrics_writer = RotatingFileWriter(
            otel_dir / f"metrics{file_format.suffix}", rotate_megabytes, file_format
        )
    metrics_state = MetricsState()
    period_end_ns = int(
        datetime.combine(end_date + timedelta(days=1), datetime.min.time(), UTC).timestamp() * 1e9
    )
    if ends_now:
        period_end_ns = min(period_end_ns, int(now.timestamp() * 1e9))

    pending: list[tuple[int, int, Event]] = []  # a heap ordered by event time
    counter = 0

    def flush(before_ns: int) -> None:
        ready = []
        while pending and pending[0][0] < before_ns:
            ready.append(heapq.heappop(pending)[2])
        # Events past the simulated period have not happened yet: they are never written.
        ready = [event for event in ready if event.time_ns < period_end_ns]
        truth.add(ready)
        compliance.add(ready)
        if writer is None or metrics_writer is None:
            return
        for written_at, request in log_writes(ready, compact=compact_records):
            writer.write(request, written_at)
        for written_at, request in metric_writes(ready, metrics_state):
            metrics_writer.write(request, written_at)

    for offset in range(days):
        local_day = start_date + timedelta(days=offset)
        for person in organisation.people:
            for event in simulate_person_day(
                seed, organisation.organization_uuid, person, local_day
            ):
                heapq.heappush(pending, (event.time_ns, counter, event))
                counter += 1
        # Nobody starts a session on the next local day before WORKDAY_START_HOUR, so
        # everything earlier than that, in any zone, is complete and can be written.
        next_day = local_day + timedelta(days=1)
        horizon = min(
            datetime.combine(next_day, datetime.min.time(), ZoneInfo(person.time_zone)).timestamp()
            for person in organisation.people
        )
        flush(int((horizon + WORKDAY_START_HOUR * 3600) * 1e9))
    flush(period_end_ns)
    writers = [each for each in (writer, metrics_writer) if each is not None]
    for each in writers:
        each.close()

    truth.add_activities(compliance.activities)
    truth.write(output_dir / "ground_truth")
    compliance.write(
        output_dir / "compliance", generated_at=datetime.combine(end_date, datetime.max.time(), UTC)
    )
    files = [path for each in writers for path in each.files]
    result = GenerationResult(
        output_dir=str(output_dir),
        otel_dir=str(otel_dir),
        users=users,
        days=days,
        start_date=start_date.isoformat(),
        end_date=end_date.isoformat(),
        events=truth.events,
        lines=writer.writes if writer else 0,
        files=len(files),
        bytes=sum(path.stat().st_size for path in files),
        total_cost_usd=str(Decimal(truth.total_cost_nano) * NANO),
        seconds=round(time.perf_counter() - started, 3),
    )
    # Paths and timings vary between runs; the rest is a pure function of the inputs.
    stable = {
        k: v for k, v in asdict(result).items() if k not in ("output_dir", "otel_dir", "seconds")
    }
    (output_dir / "ground_truth" / "generation.json").write_text(
        json.dumps({"seed": seed, **stable}, indent=1) + "\n"
    )
    return result
