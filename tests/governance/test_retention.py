"""Retention: landed partitions past `COWORK_RETENTION_DAYS` (content) and
`COWORK_RAW_RETENTION_DAYS` (OTel, Compliance, billing and their quarantines) go; the marts
keep the OTel aggregates of those days after the next incremental build, and an erasure
afterwards keeps them too (no full refresh); the pulls fetch nothing older.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from configuration.errors import ConfigurationError
from configuration.settings import Settings
from governance.erasure import forget_person
from governance.retention import apply_retention
from ingestion.billing.records import REPORT_SCHEMAS
from ingestion.compliance_api.pull import _first_window
from ingestion.paths import DataLayout
from tests.support.organisations import BuiltOrganisation
from warehouse.build import build_warehouse

# The small organisation spans 7 to 10 March 2026; "now" is the 11th.
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)


@pytest.fixture
def built(small_org_warehouse: BuiltOrganisation) -> BuiltOrganisation:
    """The small organisation, built once for the whole run (read-only: tests copy it)."""
    return small_org_warehouse


def _days(area: Path) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in area.glob("*=*") if any(p.glob("*.parquet")))


def _daily(database: Path) -> dict[str, tuple[int, float]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select cast(activity_date as varchar), count(*), round(sum(cost_usd), 6)"
            " from marts.fct_user_daily_activity group by 1 order by 1"
        ).fetchall()
    return {day: (count, cost) for day, count, cost in rows}


def _retention(environ: dict[str, str]) -> tuple[int | None, int | None]:
    settings = Settings.from_environment(environ)
    return settings.content_retention_days, settings.raw_retention_days


def test_nothing_is_dropped_without_settings(built, tmp_path) -> None:
    assert _retention({}) == (None, None)
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.data_dir / "landing", layout.root / "landing")
    summary = apply_retention(layout, NOW, None, None)
    assert summary.partitions_dropped == {}
    assert _days(layout.otel_events) == _days(DataLayout(built.data_dir).otel_events)
    with pytest.raises(ValueError, match="COWORK_RAW_RETENTION_DAYS"):
        _retention({"COWORK_RAW_RETENTION_DAYS": "0"})
    assert _retention({"COWORK_RETENTION_DAYS": "7", "COWORK_RAW_RETENTION_DAYS": "30"}) == (7, 30)


@pytest.mark.parametrize("value", ["abc", "-3", "0", "1.5", "30d"])
@pytest.mark.parametrize("variable", ["COWORK_RETENTION_DAYS", "COWORK_RAW_RETENTION_DAYS"])
def test_a_bad_setting_names_the_variable_and_its_value(variable: str, value: str) -> None:
    # Regression: "abc" ended in int()'s "invalid literal", naming neither.
    with pytest.raises(ConfigurationError, match=re.escape(f"{variable}: {value!r} ")):
        _retention({variable: value})


def test_old_partitions_go_and_marts_keep_their_aggregates(built, tmp_path) -> None:
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.data_dir, layout.root, symlinks=True)
    assert _days(layout.otel_events) == ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"]
    assert _days(layout.otel_content)
    before = _daily(layout.serving_database)
    assert "2026-03-07" in before

    summary = apply_retention(layout, NOW, content_days=1, raw_days=2)

    # Raw: the 9th and 10th stay (cutoff 9 March); content: only the 10th.
    assert _days(layout.otel_events) == ["2026-03-09", "2026-03-10"]
    assert _days(layout.otel_metrics) == ["2026-03-09", "2026-03-10"]
    assert _days(layout.otel_content) == ["2026-03-10"]
    assert summary.partitions_dropped["events"] == 2
    assert not (layout.root / "state" / ".retention-trash").exists()
    # A second pass has nothing left to drop.
    assert apply_retention(layout, NOW, content_days=1, raw_days=2).partitions_dropped == {}

    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    assert _daily(layout.serving_database) == before

    # An erasure now must not full-refresh (it would lose the 7th and 8th): it rebuilds
    # incrementally, and the other people's older aggregates stay.
    with duckdb.connect(str(layout.serving_database), read_only=True) as connection:
        user_key, email = connection.execute(
            "select user_key, user_email from marts.dim_users where user_email is not null"
            " order by user_key limit 1"
        ).fetchall()[0]
        others = connection.execute(
            "select cast(activity_date as varchar), count(*), round(sum(cost_usd), 6)"
            " from marts.fct_user_daily_activity where user_key <> ? group by 1 order by 1",
            [user_key],
        ).fetchall()
    erased = forget_person(layout, email)
    assert erased.build_success, erased.build_failures
    assert not erased.full_refresh
    with duckdb.connect(str(layout.serving_database), read_only=True) as connection:
        after = connection.execute(
            "select cast(activity_date as varchar), count(*), round(sum(cost_usd), 6)"
            " from marts.fct_user_daily_activity group by 1 order by 1"
        ).fetchall()
        (left,) = connection.execute(
            "select count(*) from marts.dim_users where user_key = ? or user_email = ?",
            [user_key, email],
        ).fetchall()[0]
    assert after == others
    assert left == 0


def _touch(path: Path, text: str, written: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (written.timestamp(), written.timestamp()))


def test_compliance_and_billing_landings_go_past_raw_retention(built, tmp_path) -> None:
    # GIVEN the small organisation's Compliance landing (activities of 7 to 10 March), an old
    # directory snapshot, billing days on both sides of the cutoff, and quarantined records
    # written long ago and today.
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.data_dir / "landing", layout.root / "landing")
    assert _days(layout.compliance("activities"))[0] == "2026-03-07"
    snapshot = next(layout.compliance("users").glob("*/snapshot.parquet"))
    old_snapshot = layout.compliance("users") / "snapshot_date=2026-03-01" / "snapshot.parquet"
    old_snapshot.parent.mkdir()
    shutil.copy(snapshot, old_snapshot)
    for report, schema in REPORT_SCHEMAS.items():
        for day in ("2026-03-05", "2026-03-08", "2026-03-10"):
            path = layout.billing(report) / f"{schema.names[0]}={day}" / "part.parquet"
            path.parent.mkdir(parents=True)
            pq.write_table(schema.empty_table(), path)
    long_ago, today = datetime(2026, 3, 1, tzinfo=UTC), NOW
    for root in (layout.compliance("quarantine"), layout.billing("quarantine")):
        _touch(root / "users" / "2026-03-01-page-old.jsonl", "{}\n", long_ago)
        _touch(root / "users" / "2026-03-11-page-new.jsonl", "{}\n", today)

    summary = apply_retention(layout, NOW, raw_days=2)

    # THEN every landed dataset keeps the 9th onwards only (snapshots of today included),
    # and the quarantines only what was written within the days.
    assert _days(layout.compliance("activities")) == ["2026-03-09", "2026-03-10"]
    assert old_snapshot.parent.name not in _days(layout.compliance("users"))
    assert snapshot.exists()
    for report in REPORT_SCHEMAS:
        assert _days(layout.billing(report)) == ["2026-03-10"], report
    for root in (layout.compliance("quarantine"), layout.billing("quarantine")):
        assert sorted(path.name for path in root.rglob("*.jsonl")) == ["2026-03-11-page-new.jsonl"]
    assert summary.partitions_dropped["compliance_activities"] == 2
    assert summary.partitions_dropped["compliance_users"] == 1
    assert summary.partitions_dropped["billing_cost_totals"] == 2
    assert summary.quarantine_files_dropped == 2
    assert summary.partitions_dropped["events"] == 2  # OTel as before


def test_the_pulls_fetch_nothing_older_than_the_landing_keeps() -> None:
    # A first Compliance pull back-fills 30 days, but only the 9th onwards is kept.
    window = _first_window({}, backfill_days=30, now=NOW, keep_days=2)
    assert window["gte"] == "2026-03-09T00:00:00Z"
    assert _first_window({}, backfill_days=30, now=NOW)["gte"] == "2026-02-09T12:00:00Z"
    # A watermark inside the kept days still reads from its overlap.
    state = {"watermark": {"id": "a", "created_at": "2026-03-10T08:00:00Z"}}
    assert _first_window(state, 30, NOW, keep_days=2)["gte"] == "2026-03-10T07:50:00Z"
