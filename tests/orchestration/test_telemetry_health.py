from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.checks.telemetry_health import (
    TelemetryHealthResource,
    recent_telemetry_health,
)
from orchestration.defs.resources import SettingsResource
from orchestration.lib.telemetry_health import SourceHealth, judge_telemetry_health

THRESHOLDS = TelemetryHealthResource().thresholds()  # 5 %, 1 %, 1 %, 5 %, 5 %
DAY = date(2026, 3, 10)
CLEAN = SourceHealth(
    source="otel:cowork",
    first_day=DAY,
    last_day=DAY,
    events=100,
    events_without_email=0,
    unknown_event_names=0,
    sequence_gap_events=0,
    duplicate_deliveries=0,
    late_arrivals=0,
)


def test_clean_telemetry_and_no_telemetry_pass() -> None:
    verdict = judge_telemetry_health([CLEAN], THRESHOLDS)
    assert verdict.passed and verdict.breaches == []
    assert verdict.sources[0].shares["without_email"] == 0.0
    assert judge_telemetry_health([], THRESHOLDS).passed


@pytest.mark.parametrize(
    ("at_threshold", "above", "label"),
    [
        pytest.param(
            {"events_without_email": 5},
            {"events_without_email": 6},
            "6.0% events without an e-mail (max 5.0%)",
            id="without e-mail",
        ),
        pytest.param(
            {"unknown_event_names": 1},
            {"unknown_event_names": 2},
            "2.0% events with an unknown event name (max 1.0%)",
            id="unknown event names",
        ),
        # Missing records are a share of what was sent: 1 of 99 + 1, then 2 of 98 + 2.
        pytest.param(
            {"events": 99, "sequence_gap_events": 1},
            {"events": 98, "sequence_gap_events": 2},
            "2.0% records missing inside a client process (max 1.0%)",
            id="sequence gaps",
        ),
        pytest.param(
            {"duplicate_deliveries": 5},
            {"duplicate_deliveries": 6},
            "6.0% duplicate deliveries (max 5.0%)",
            id="duplicate deliveries",
        ),
        pytest.param(
            {"late_arrivals": 5},
            {"late_arrivals": 6},
            "6.0% late arrivals (max 5.0%)",
            id="late arrivals",
        ),
    ],
)
def test_a_share_at_its_threshold_passes_and_above_it_warns(at_threshold, above, label) -> None:
    assert judge_telemetry_health([replace(CLEAN, **at_threshold)], THRESHOLDS).passed
    other = replace(CLEAN, source="compliance_api")
    verdict = judge_telemetry_health([other, replace(CLEAN, **above)], THRESHOLDS)
    assert not verdict.passed
    assert verdict.breaches == [f"otel:cowork: {label}"]
    assert [source.breaches == [] for source in verdict.sources] == [True, False]


def test_a_source_without_events_has_no_shares() -> None:
    empty = replace(CLEAN, events=0)
    assert set(empty.shares().values()) == {0.0}
    assert judge_telemetry_health([empty], THRESHOLDS).passed


def _health_mart(root: Path, rows: list[tuple]) -> None:
    database = root / "build" / "warehouse.duckdb"
    database.parent.mkdir(parents=True)
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create schema marts; create table marts.fct_telemetry_health (source varchar,"
            " activity_date date, events bigint, events_without_email bigint,"
            " unknown_event_names bigint, sequence_gap_events bigint,"
            " duplicate_deliveries bigint, late_arrivals bigint)"
        )
        connection.executemany(
            "insert into marts.fct_telemetry_health values (?, ?, ?, ?, ?, ?, ?, ?)", rows
        )


def test_the_check_judges_each_sources_latest_days_and_only_warns(tmp_path: Path) -> None:
    # GIVEN cowork, whose older day lacked e-mails, and a compliance source that stopped a
    # day earlier and whose latest day lacked them
    _health_mart(
        tmp_path,
        [
            ("otel:cowork", date(2026, 3, 8), 100, 50, 0, 0, 0, 0),
            ("otel:cowork", date(2026, 3, 9), 100, 2, 0, 0, 0, 0),
            ("otel:cowork", date(2026, 3, 10), 100, 2, 0, 0, 0, 0),
            ("compliance_api", date(2026, 3, 8), 100, 0, 0, 0, 0, 0),
            ("compliance_api", date(2026, 3, 9), 100, 30, 0, 0, 0, 0),
        ],
    )
    settings = SettingsResource(data_dir=str(tmp_path))

    # WHEN the check looks back one day: each source's own latest day
    result = recent_telemetry_health(settings=settings, telemetry_health=TelemetryHealthResource())

    # THEN compliance (30 % on 9 March) warns and cowork (2 % on 10 March) does not
    assert isinstance(result, dg.AssetCheckResult)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["breaches"].value == (
        "- compliance_api: 30.0% events without an e-mail (max 5.0%)"
    )
    assert result.metadata["compliance_api"].value["days"] == "2026-03-09 to 2026-03-09"
    cowork = result.metadata["otel:cowork"].value
    assert (cowork["days"], cowork["events"], cowork["share_without_email"]) == (
        "2026-03-10 to 2026-03-10",
        100,
        0.02,
    )

    # WHEN it looks back three days with a laxer e-mail threshold
    lax = TelemetryHealthResource(lookback_days=3, max_share_without_email=0.2)
    result = recent_telemetry_health(settings=settings, telemetry_health=lax)

    # THEN cowork's three days hold 54 of 300 (18 %), compliance 30 of 200 (15 %): both pass
    assert result.passed
    cowork = result.metadata["otel:cowork"].value
    assert (cowork["days"], cowork["events_without_email"]) == ("2026-03-08 to 2026-03-10", 54)
    assert result.metadata["thresholds"].value["max_share_without_email"] == 0.2


def test_the_check_passes_before_anything_was_built(tmp_path: Path) -> None:
    result = recent_telemetry_health(
        settings=SettingsResource(data_dir=str(tmp_path)),
        telemetry_health=TelemetryHealthResource(),
    )
    assert result.passed and result.metadata["sources"].value == 0


def test_the_pipeline_job_runs_the_check_with_its_resource() -> None:
    from orchestration.definitions import build_definitions
    from orchestration.defs.jobs import PIPELINE_JOB_NAME

    defs = build_definitions()
    job = defs.resolve_job_def(PIPELINE_JOB_NAME)
    check = dg.AssetCheckKey(
        dg.AssetKey(["marts", "fct_telemetry_health"]), "recent_telemetry_health"
    )
    assert check in job.asset_layer.asset_graph.asset_check_keys
    assert "telemetry_health" in job.resource_defs
