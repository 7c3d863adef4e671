"""D4: staging that disagrees with landing fails a blocking test, in `dbt build` and as a
Dagster asset check; no mart is built and the serving file stays as it was.

Every test starts from a copy of one warehouse built and published from one collector file
of the small organisation (`first_file_warehouse`, built once per run, to keep the two
extra builds fast).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb

from configuration.settings import Settings
from cowork_analytics.pipeline import open_instance, run_pipeline
from ingestion.paths import DataLayout
from orchestration.defs.checks.telemetry_health import (
    TelemetryHealthResource,
    recent_telemetry_health,
)
from orchestration.defs.resources import SettingsResource
from warehouse.build import build_warehouse

EVENTS_RECONCILIATION = "stg_otel__events_reconciles_with_landing"
STAGED_EVENTS = dg.AssetKey(["staging", "stg_otel__events"])


def _copy(built: Path, tmp_path: Path) -> tuple[DataLayout, Path]:
    """A private copy of the built data directory, and the collector folder it landed."""
    shutil.copytree(built / "data", tmp_path / "data")
    return DataLayout(tmp_path / "data"), built / "collector"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The one mart that reads nothing from telemetry (only the bill): a failed OTel staging
# model does not hold it back, and it is never published without the others.
BILL_ONLY_MART = "fct_billed_cost_daily"


def _statuses(layout: DataLayout, folder: str) -> dict[str, str]:
    """The last build's status of each model in a models/ folder (from dbt's artifacts)."""
    nodes = json.loads((layout.dbt_target / "manifest.json").read_text())["nodes"]
    results = json.loads((layout.dbt_target / "run_results.json").read_text())["results"]
    models = {
        unique_id
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model" and node["fqn"][1] == folder
    }
    return {
        result["unique_id"]: result["status"] for result in results if result["unique_id"] in models
    }


def _refile_a_record_under_the_next_day(layout: DataLayout) -> tuple[str, int]:
    """Land one record of a day again under the next day, as a landing that cut days in local
    time would file a record near midnight: one event_id on two event days.

    Returns:
        The later day and its distinct landed event_ids before.
    """
    days = sorted(layout.otel_events.glob("event_date=*"))
    earlier, later = days[-2], days[-1]
    day = later.name.split("=")[1]
    with duckdb.connect() as connection:
        (landed,) = connection.execute(
            f"select count(distinct event_id) from read_parquet('{later}/*.parquet')"
        ).fetchone()
        connection.execute(
            f"copy (select * replace (cast('{day}' as date) as event_date, now() as landed_at)"
            f" from read_parquet('{earlier}/*.parquet') order by event_id limit 1)"
            f" to '{later}/refiled.parquet' (format parquet)"
        )
    return day, landed


def test_a_duplicate_staged_row_fails_the_key_and_reconciliation_tests(
    first_file_warehouse: Path, tmp_path: Path
) -> None:
    layout, _ = _copy(first_file_warehouse, tmp_path)
    published = _digest(layout.serving_database)

    # GIVEN a second copy of one row of the latest staging run, as a writer outside dbt's
    # delete+insert (an overlapping or half-finished write) would leave it
    with duckdb.connect(str(layout.build_database)) as connection:
        (day,) = connection.execute(
            "insert into staging.stg_otel__events select * from staging.stg_otel__events"
            " order by event_date desc, event_id limit 1 returning event_date"
        ).fetchone()
        staged, landed = connection.execute(
            "select count(*), count(distinct event_id) from staging.stg_otel__events"
            " where event_date = ?",
            [day],
        ).fetchone()
    assert staged == landed + 1

    # WHEN the next build finds nothing newly landed: with no lookback it re-stages no day,
    # so its tests judge the days of the latest staging run as they are
    result = build_warehouse(layout, dbt_vars={"late_arrival_lookback_hours": 0})

    # THEN both the key test and the reconciliation fail, no mart is built, and readers keep
    # the previous warehouse byte for byte
    assert not result.success
    assert {failure.split(":")[0] for failure in result.failures} == {
        "unique_stg_otel__events_event_id",
        EVENTS_RECONCILIATION,
    }
    statuses = {
        unique_id.rsplit(".", 1)[-1]: status
        for unique_id, status in _statuses(layout, "marts").items()
    }
    assert statuses.pop(BILL_ONLY_MART) == "success"
    assert set(statuses.values()) == {"skipped"}
    assert _digest(layout.serving_database) == published
    # The failing row names the day and both counts.
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        assert connection.execute(
            f"select * from dbt_test__audit.{EVENTS_RECONCILIATION}"
        ).fetchall() == [(day, landed + 1, landed, 0)]


def _failed_reconciliation(layout: DataLayout, **dbt_vars: object) -> list[tuple]:
    """Build with nothing newly landed (no day re-staged); the reconciliation's failing rows.

    Asserts that the reconciliation is the build's only failure.
    """
    result = build_warehouse(layout, dbt_vars={"late_arrival_lookback_hours": 0, **dbt_vars})
    if result.success:
        return []
    assert {failure.split(":")[0] for failure in result.failures} == {EVENTS_RECONCILIATION}
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        return connection.execute(
            f"select cast(landed_date as varchar), staged_rows, landed_records,"
            f" keys_staged_on_other_days from dbt_test__audit.{EVENTS_RECONCILIATION}"
        ).fetchall()


def test_the_full_check_finds_a_day_missing_from_staging(
    first_file_warehouse: Path, tmp_path: Path
) -> None:
    layout, _ = _copy(first_file_warehouse, tmp_path)
    # GIVEN a landed day whose every staged row is gone (so no row of it was rebuilt)
    with duckdb.connect(str(layout.build_database)) as connection:
        (day,) = connection.execute(
            "select min(event_date) from staging.stg_otel__events"
        ).fetchone()
        connection.execute("delete from staging.stg_otel__events where event_date = ?", [day])
    with duckdb.connect() as connection:
        (landed,) = connection.execute(
            f"select count(distinct event_id)"
            f" from read_parquet('{layout.otel_events}/event_date={day}/*.parquet')"
        ).fetchone()
    # WHEN the build compares every landed day (the periodic full check)
    # THEN the reconciliation names the day, with nothing staged for its landed records
    assert _failed_reconciliation(layout, reconcile_all_days=True) == [(str(day), 0, landed, 0)]


def test_a_record_staged_on_a_rebuilt_and_on_an_older_day_fails_every_build(
    first_file_warehouse: Path, tmp_path: Path
) -> None:
    layout, _ = _copy(first_file_warehouse, tmp_path)
    # GIVEN one record landed under two days (a second copy filed under the next day,
    # landed as long ago as the first, so no run re-stages anything) and staged on both:
    # the earlier day by an older run, the later one by the latest run, so that each day's
    # count equals its landed keys and the key test, scoped to the latest run, sees it once
    days = sorted(layout.otel_events.glob("event_date=*"))
    earlier, later = days[-2], days[-1]
    later_day = later.name.split("=")[1]
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * replace (cast('{later_day}' as date) as event_date)"
            f" from read_parquet('{earlier}/*.parquet') order by event_id limit 1)"
            f" to '{later}/refiled.parquet' (format parquet)"
        )
        (event_id,) = connection.execute(
            f"select event_id from read_parquet('{later}/refiled.parquet')"
        ).fetchone()
    with duckdb.connect(str(layout.build_database)) as connection:
        connection.execute(
            "update staging.stg_otel__events set rebuilt_at = rebuilt_at - interval 1 hour"
            " where event_date < ?",
            [later_day],
        )
        connection.execute(
            "insert into staging.stg_otel__events"
            " select * replace (cast(? as date) as event_date) from staging.stg_otel__events"
            " where event_id = ?",
            [later_day, event_id],
        )
        (staged,) = connection.execute(
            "select count(*) from staging.stg_otel__events where event_date = ?", [later_day]
        ).fetchone()
    # WHEN an hourly build runs (not the full check)
    # THEN the reconciliation names the rebuilt day with its one key staged on another day
    assert _failed_reconciliation(layout, reconcile_all_days=False) == [
        (later_day, staged, staged, 1)
    ]


def test_d4_in_dagster_a_failed_reconciliation_blocks_the_marts(
    first_file_warehouse: Path, tmp_path: Path
) -> None:
    layout, collector = _copy(first_file_warehouse, tmp_path)
    published = _digest(layout.serving_database)
    settings = Settings(
        data_dir=layout.root,
        configured_otel_dirs=(collector,),
        configured_dagster_home=tmp_path / "dagster",
    )

    # GIVEN one record landed a second time under another event day (the collector file
    # itself is landed already: the run lands nothing new)
    day, landed = _refile_a_record_under_the_next_day(layout)

    # WHEN the pipeline job runs, re-staging the recent days
    run = run_pipeline(settings)

    # THEN staging keeps the record once, on its first day, so the later day stages one row
    # fewer than it has landed keys: the reconciliation check fails with severity ERROR, the
    # dbt step fails, no mart is materialized and nothing is published
    assert not run.success
    materialized, checks = set(), {}
    with open_instance(settings) as instance:
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event and event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialized.add(event.asset_key)
            elif event and event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                checks[event.event_specific_data.asset_check_key] = event.event_specific_data
    reconciliation = checks[dg.AssetCheckKey(STAGED_EVENTS, EVENTS_RECONCILIATION)]
    assert not reconciliation.passed
    assert reconciliation.severity == dg.AssetCheckSeverity.ERROR
    assert checks[dg.AssetCheckKey(STAGED_EVENTS, "unique_stg_otel__events_event_id")].passed
    assert STAGED_EVENTS in materialized
    built = {key for key in materialized if key.path[0] in ("marts", "serving")}
    assert built == {dg.AssetKey(["marts", BILL_ONLY_MART])}
    tested = {key.asset_key for key in checks if key.asset_key.path[0] == "marts"}
    assert tested <= {dg.AssetKey(["marts", BILL_ONLY_MART])}  # no mart of telemetry was tested
    assert [failure.split(":")[0] for failure in run.step_failures] == ["warehouse_dbt_assets"]
    assert _digest(layout.serving_database) == published
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        assert connection.execute(
            f"select cast(landed_date as varchar), staged_rows, landed_records"
            f" from dbt_test__audit.{EVENTS_RECONCILIATION}"
        ).fetchall() == [(day, landed, landed + 1)]


def test_the_telemetry_health_check_reads_the_built_mart(first_file_warehouse: Path) -> None:
    result = recent_telemetry_health(
        settings=SettingsResource(data_dir=str(first_file_warehouse / "data")),
        telemetry_health=TelemetryHealthResource(lookback_days=99),
    )
    assert result.severity == dg.AssetCheckSeverity.WARN
    with duckdb.connect(
        str(DataLayout(first_file_warehouse / "data").serving_database), read_only=True
    ) as db:
        expected = dict(
            db.execute(
                "select source, sum(events) from marts.fct_telemetry_health group by 1"
            ).fetchall()
        )
    assert expected  # the one collector file has Cowork and Claude Code events
    assert {source: result.metadata[source].value["events"] for source in expected} == expected
