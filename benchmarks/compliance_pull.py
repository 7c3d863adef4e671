"""PB10: pull 100 k activities from the emulator over real HTTP, with and without faults.

    .venv/bin/python benchmarks/compliance_pull.py --activities 100000

The activity feed of a generated organisation is extended to the requested size (same
people, fresh ids spread over the back-fill window). The client runs with its real limiter
(600 requests/minute) and retry policy; the faulty run must land exactly the same records.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT))

from ingestion.compliance_api.client import ComplianceClient  # noqa: E402
from ingestion.compliance_api.pull import pull_activities  # noqa: E402
from ingestion.manifest import Manifest  # noqa: E402
from ingestion.paths import DataLayout  # noqa: E402
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData  # noqa: E402
from simulation.generate import generate  # noqa: E402

END = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)


def _scaled(data: EmulatorData, activities: int) -> EmulatorData:
    base = data.activities
    scaled = []
    step = timedelta(days=29) / activities
    for index in range(activities):
        record = copy.deepcopy(base[index % len(base)])
        record["id"] = f"activity_01bench{index:012d}"
        record["created_at"] = (
            (END - step * index).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
        scaled.append(record)
    data.activities = scaled
    data.activity_index = {record["id"]: position for position, record in enumerate(scaled)}
    return data


def _run(data: EmulatorData, workdir: Path, fault_rate: float) -> dict[str, float]:
    shutil.rmtree(workdir, ignore_errors=True)
    layout = DataLayout(workdir)
    with ComplianceEmulator(data, fault_rate=fault_rate, seed=11) as server:
        with ComplianceClient("sk-ant-api01-bench", server.url) as client:
            started = time.perf_counter()
            landed = pull_activities(
                client, layout, Manifest(layout.manifest), backfill_days=30, now=END
            )
            seconds = time.perf_counter() - started
            stats = client.stats
        faults = dict(server.faults_injected)
    ids = duckdb.sql(
        "select count(distinct activity_id)"
        f" from read_parquet('{layout.compliance('activities')}/*/*.parquet')"
    ).fetchall()[0][0]
    return {
        "fault_rate": fault_rate,
        "records": landed,
        "distinct_ids": ids,
        "seconds": round(seconds, 2),
        "records_per_second": round(landed / seconds),
        "requests": stats.requests,
        "retries": stats.retries,
        "waited_seconds": round(stats.waited_seconds, 2),
        "faults_injected": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cowork-bench-compliance"))
    args = parser.parse_args()
    generated = generate(
        args.workdir / "generated", seed=3, users=30, days=7, end_date=date(2026, 11, 20)
    )
    data = _scaled(EmulatorData.load(Path(generated.output_dir) / "compliance"), args.activities)
    clean = _run(data, args.workdir / "clean", 0.0)
    faulty = _run(data, args.workdir / "faulty", 0.3)
    report = {
        "activities": args.activities,
        "runs": [clean, faulty],
        "same_records": clean["distinct_ids"] == faulty["distinct_ids"] == args.activities,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
