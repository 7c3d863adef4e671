from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.otel.schema import EVENTS_SCHEMA
from orchestration.defs.checks.freshness import otel_events_freshness
from orchestration.defs.resources import FreshnessResource, SettingsResource
from orchestration.lib.freshness import judge_freshness

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_fresh_stale_and_silent_sources() -> None:
    assert judge_freshness(NOW - timedelta(hours=1), NOW, 2, 24).passed
    stale = judge_freshness(NOW - timedelta(hours=3), NOW, 2, 24)
    assert not stale.passed and not stale.failed_hard
    assert round(stale.lag_hours, 3) == 3
    gone = judge_freshness(NOW - timedelta(hours=25), NOW, 2, 24)
    assert not gone.passed and gone.failed_hard
    never = judge_freshness(None, NOW, 2, 24)
    assert not never.passed and never.failed_hard and never.lag_hours is None


def _land_one_event(root: Path, at: datetime) -> None:
    row = {name: None for name in EVENTS_SCHEMA.names}
    row |= {"event_id": "e1", "event_name": "api_request", "event_at": at, "event_date": at.date()}
    folder = root / "landing" / "otel" / "events" / f"event_date={at.date()}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=EVENTS_SCHEMA), folder / "part.parquet")


def _check(root: Path) -> dg.AssetCheckResult:
    return otel_events_freshness(
        settings=SettingsResource(data_dir=str(root)), freshness=FreshnessResource()
    )


def test_check_warns_on_a_stale_landing_and_fails_on_none(tmp_path: Path) -> None:
    silent = _check(tmp_path / "empty")
    assert not silent.passed and silent.severity == dg.AssetCheckSeverity.ERROR
    _land_one_event(tmp_path / "stale", datetime.now(UTC) - timedelta(hours=3))
    stale = _check(tmp_path / "stale")
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    _land_one_event(tmp_path / "fresh", datetime.now(UTC) - timedelta(minutes=5))
    assert _check(tmp_path / "fresh").passed
