"""D5: daily incremental runs build the same warehouse as one backfill of the same days.

The pipeline is not partitioned in Dagster; its days are the UTC days of the events. A
small organisation whose sessions sometimes run past UTC midnight (the hard case: a daily
run sees half a session) has its collector files split by the UTC day of each record into
one rotated file per signal and day (valid OTLP/JSON lines), and its Compliance API
records, pulled once from the emulator, by the day of each activity. Then:

- DAILY: on each day only that day's files arrive (the directory on the first day); they
  are landed and the warehouse is built incrementally, with no lookback, after each day;
- BACKFILL: every day's files arrive at once, are landed once and built once.

Both land the same files (same fingerprints and offsets), so every mart, staged and
intermediate table must have the same rows. Left out are only the columns that record when
something happened, which are meant to differ: `rebuilt_at` (by the checksum helper),
`landed_at` and `changed_at` (the run that last resolved an identity).
"""

from __future__ import annotations

import copy
import json
import shutil
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import pull_compliance
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult, generate
from tests.support.checksums import checksums
from tests.warehouse.test_incremental import NO_LOOKBACK, _ok
from warehouse.build import build_warehouse

# 12 people over 3 days; with this seed two sessions cross UTC midnight (see the test).
ORGANISATION = {
    "seed": 6,
    "users": 12,
    "days": 3,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}
SCHEMAS = ("marts", "intermediate", "staging")
# When a record was landed, and which run resolved an identity, differ by design.
RUN_TIMES = ("landed_at", "changed_at")
POINT_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


# --------------------------------------------------------------------------- splitting


def _utc_day(item: dict) -> date:
    nanos = int(item.get("timeUnixNano") or item["observedTimeUnixNano"])
    return datetime.fromtimestamp(nanos // 1_000_000_000, UTC).date()


def _items(message: dict) -> list[list[dict]]:
    """The lists of timed items (log records, metric data points) of one message."""
    lists = []
    for resource in message.get("resourceLogs", []):
        lists += [scope["logRecords"] for scope in resource["scopeLogs"]]
    for resource in message.get("resourceMetrics", []):
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                lists += [metric[kind]["dataPoints"] for kind in POINT_KINDS if kind in metric]
    return lists


def _of_day(message: dict, day: date) -> dict:
    """The message with only the records of `day`, and no empty scopes or resources."""
    kept = copy.deepcopy(message)
    for items in _items(kept):
        items[:] = [item for item in items if _utc_day(item) == day]
    for resource in kept.get("resourceLogs", []):
        resource["scopeLogs"] = [s for s in resource["scopeLogs"] if s["logRecords"]]
    kept["resourceLogs"] = [r for r in kept.get("resourceLogs", []) if r["scopeLogs"]]
    for resource in kept.get("resourceMetrics", []):
        for scope in resource["scopeMetrics"]:
            scope["metrics"] = [
                metric
                for metric in scope["metrics"]
                if any(metric[kind]["dataPoints"] for kind in POINT_KINDS if kind in metric)
            ]
        resource["scopeMetrics"] = [s for s in resource["scopeMetrics"] if s["metrics"]]
    kept["resourceMetrics"] = [r for r in kept.get("resourceMetrics", []) if r["scopeMetrics"]]
    return {key: value for key, value in kept.items() if value}


def split_by_day(otel_dir: Path, output: Path) -> dict[date, list[Path]]:
    """Write each UTC day's records as `<output>/<day>/<signal>-<day>T23-59-59.999.jsonl`.

    Lines keep the collector's order (rotated files first, oldest first, then the live
    file); a message holding records of two days becomes one line per day.
    """
    lines: dict[tuple[date, str], list[str]] = defaultdict(list)
    for signal in ("logs", "metrics"):
        files = [*sorted(otel_dir.glob(f"{signal}-*.jsonl")), otel_dir / f"{signal}.jsonl"]
        for path in files:
            for line in path.read_text().splitlines():
                message = json.loads(line)
                days = {_utc_day(item) for items in _items(message) for item in items}
                for day in sorted(days):
                    lines[(day, signal)].append(json.dumps(_of_day(message, day)))
    files_by_day: dict[date, list[Path]] = defaultdict(list)
    for (day, signal), day_lines in sorted(lines.items()):
        path = output / day.isoformat() / f"{signal}-{day.isoformat()}T23-59-59.999.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(day_lines) + "\n")
        files_by_day[day].append(path)
    return dict(files_by_day)


def pull_once(organisation: GenerationResult, layout: DataLayout) -> None:
    """The organisation's Compliance API records, landed from the emulator."""
    emulator_data = EmulatorData.load(Path(organisation.output_dir) / "compliance")
    after_the_period = datetime.combine(
        date.fromisoformat(organisation.end_date) + timedelta(days=1), time(), UTC
    )
    with (
        ComplianceEmulator(emulator_data) as emulator,
        ComplianceClient("test-key", emulator.url) as client,
    ):
        pull_compliance(client, layout, backfill_days=365, now=after_the_period)


def _copy_compliance(source: DataLayout, target: DataLayout, days: list[date] | None) -> int:
    """Copy pulled Compliance records into a data dir, as if landed now.

    `days` None copies the directory snapshots; otherwise the activities created on those
    days, with `landed_at` set to now (the activity staging sees them as new).
    """
    root = source.root / "landing" / "compliance"
    if days is None:
        for folder in root.iterdir():
            if folder.name != "activities":
                shutil.copytree(folder, target.root / "landing" / "compliance" / folder.name)
        return 0
    copied = 0
    with duckdb.connect() as connection:
        for day in days:
            partition = source.compliance("activities") / f"created_date={day.isoformat()}"
            for page in sorted(partition.glob("*.parquet")):
                destination = target.compliance("activities") / partition.name / page.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                (rows,) = connection.execute(
                    "copy (select * replace (now() as landed_at)"
                    f" from read_parquet('{page}')) to '{destination}' (format parquet)"
                ).fetchone()
                copied += rows
    return copied


def _activity_days(layout: DataLayout) -> list[date]:
    return sorted(
        date.fromisoformat(path.name.split("=")[1])
        for path in layout.compliance("activities").glob("created_date=*")
    )


# --------------------------------------------------------------------------- comparing


def _comparable_checksums(layout: DataLayout, scratch: Path) -> dict[str, tuple[int, str]]:
    """Checksums of the built tables, on a copy without the run-time columns."""
    copy_path = scratch / "comparable.duckdb"
    shutil.copy(layout.build_database, copy_path)
    with duckdb.connect(str(copy_path)) as connection:
        columns = connection.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " join duckdb_tables() using (schema_name, table_name)"
            " where column_name in (select unnest(?)) and schema_name in (select unnest(?))",
            [list(RUN_TIMES), list(SCHEMAS)],
        ).fetchall()
        for schema, table, column in columns:
            connection.execute(f'alter table {schema}."{table}" drop column {column}')
    return checksums(copy_path, schemas=SCHEMAS)


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    return generate(tmp_path_factory.mktemp("org"), rotate_megabytes=1.0, **ORGANISATION)


@pytest.fixture(scope="module")
def daily_and_backfill(
    organisation: GenerationResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict, list[date], int, int]:
    root = tmp_path_factory.mktemp("daily_runs")
    files_by_day = split_by_day(Path(organisation.otel_dir), root / "split")
    days = sorted(files_by_day)
    pulled = DataLayout(root / "pulled")
    pull_once(organisation, pulled)
    activity_days = _activity_days(pulled)
    # Activities before the first or after the last event day arrive with that day.
    arriving = {
        day: [a for a in activity_days if min(max(a, days[0]), days[-1]) == day] for day in days
    }
    # The forecasts' "today" is the last day on both sides, not the build's date.
    dbt_vars = {**NO_LOOKBACK, "as_of_date": days[-1].isoformat()}

    # DAILY: each day's files arrive, are landed, and the warehouse is built incrementally.
    daily = DataLayout(root / "daily" / "data")
    inbox = root / "daily" / "otel"
    inbox.mkdir(parents=True)
    _copy_compliance(pulled, daily, None)
    activities = 0
    for day in days:
        for path in files_by_day[day]:
            shutil.copy(path, inbox / path.name)
        activities += _copy_compliance(pulled, daily, arriving[day])
        landed = land_otel([inbox], daily)
        assert landed.records_landed + landed.metric_points_landed > 0
        assert {partition.split("=")[1] for partition in landed.partitions} == {day.isoformat()}
        _ok(build_warehouse(daily, publish=False, dbt_vars=dbt_vars))

    # BACKFILL: every day arrives at once, then one landing and one build.
    backfill = DataLayout(root / "backfill" / "data")
    everything = root / "backfill" / "otel"
    everything.mkdir(parents=True)
    for day in days:
        for path in files_by_day[day]:
            shutil.copy(path, everything / path.name)
    _copy_compliance(pulled, backfill, None)
    assert _copy_compliance(pulled, backfill, activity_days) == activities
    land_otel([everything], backfill)
    _ok(build_warehouse(backfill, publish=False, dbt_vars=dbt_vars))
    with duckdb.connect(str(backfill.build_database), read_only=True) as connection:
        (sessions_over_midnight,) = connection.execute(
            "select count(*) from (select session_id from staging.stg_otel__events"
            " group by session_id having count(distinct event_date) > 1)"
        ).fetchone()

    return (
        _comparable_checksums(daily, root / "daily"),
        _comparable_checksums(backfill, root / "backfill"),
        days,
        activities,
        sessions_over_midnight,
    )


def test_the_days_hold_every_record_and_sessions_over_midnight(
    daily_and_backfill, organisation: GenerationResult
) -> None:
    daily, backfill, days, activities, sessions_over_midnight = daily_and_backfill
    assert len(days) >= 3
    assert daily["staging.stg_otel__events"][0] == organisation.events
    assert backfill["staging.stg_otel__events"][0] == organisation.events
    assert activities > 0
    assert daily["marts.fct_api_requests"][0] > 0
    assert sessions_over_midnight > 0


def test_daily_incremental_runs_equal_a_backfill(daily_and_backfill) -> None:
    daily, backfill, *_ = daily_and_backfill
    assert daily.keys() == backfill.keys()
    assert any(name.startswith("marts.") for name in daily)
    different = {
        name: (daily[name], backfill[name]) for name in backfill if daily[name] != backfill[name]
    }
    assert different == {}
