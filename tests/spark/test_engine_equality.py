"""The same dbt project on Spark builds the same marts as on DuckDB (issue 9).

A generated organisation is landed in two batches, the way days arrive. After each batch
the warehouse is built on both engines from the same landed files: the first build is a
full one (nothing exists yet), the second an incremental one (DuckDB's delete+insert, Spark's
insert_overwrite of day partitions). After each, every mart built by Spark must equal
DuckDB's: same rows, same keys, numbers within 1e-9 relative, everything else exactly.

Spark runs in this process's child (dbt-spark, session mode) on the machine's Java. Only one
Spark session may use a data directory's metastore at a time, so this module runs on its own
(`make test` runs `pytest -m spark` after the parallel suite).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.billing import BillingData
from simulation.compliance_pull import pull_generated_compliance
from simulation.generate import generate
from tests.support.billing import pull_generated_billing
from tests.support.dbt_unit_tests import run_unit_tests, unit_tests_in_manifest
from warehouse.build import BuildResult, build_warehouse
from warehouse.engine_comparison import (
    MartComparison,
    compare_marts,
    describe_differences,
    spark_table_source,
)

pytestmark = pytest.mark.spark

CLI = str(Path(sys.executable).parent / "cowork-analytics")
# Claude Code and Cowork, a directory, rotated files; a week so that days can arrive late.
ORGANISATION = {
    "seed": 23,
    "users": 10,
    "days": 6,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}
# Batches re-stage exactly the days they touched, so the incremental path is exercised.
NO_LOOKBACK = {"late_arrival_lookback_hours": 0}


def _built(result: BuildResult) -> BuildResult:
    assert result.success, result.failures or result.error
    assert result.tests["fail"] == 0 and result.tests["error"] == 0
    return result


def _build_both(
    layout: DataLayout, *, spark_from_cli: bool = False
) -> tuple[list[MartComparison], set[str]]:
    """Build on DuckDB, then Spark; compare; and list Spark's rewritten staging days."""
    before = _partition_files(layout)
    _built(build_warehouse(layout, publish=False, dbt_vars=NO_LOOKBACK))
    if spark_from_cli:  # what a user types (a first build: the lookback plays no part)
        completed = subprocess.run(
            [CLI, "build", "--data-dir", str(layout.root), "--target", "spark"],
            capture_output=True,
            text=True,
            # Wide enough that the console does not wrap the path it prints.
            env=os.environ | {"COLUMNS": "400"},
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert f"Spark's tables are in {layout.spark_warehouse}" in completed.stdout
    else:
        _built(build_warehouse(layout, target="spark", dbt_vars=NO_LOOKBACK))
    comparisons = compare_marts(
        layout.build_database,
        layout.spark_warehouse,
        layout.dbt_target / "manifest.json",
    )
    after = _partition_files(layout)
    rewritten = {day for day, files in after.items() if files != before.get(day)}
    return comparisons, rewritten


def _partition_files(layout: DataLayout) -> dict[str, set[str]]:
    """Spark's staged events: day partition -> its Parquet file names."""
    table = layout.spark_warehouse / "staging.db" / "stg_otel__events"
    if not table.exists():
        return {}
    return {
        partition.name.split("=", 1)[1]: {file.name for file in partition.glob("*.parquet")}
        for partition in table.iterdir()
        if partition.is_dir()
    }


def _session_ids(layout: DataLayout) -> set[str]:
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        rows = connection.execute("select session_id from marts.fct_sessions").fetchall()
    return {session_id for (session_id,) in rows}


def _latest_rebuilds(layout: DataLayout) -> dict[str, tuple[set[str], set[str]]]:
    """Incremental model -> the units (days or keys) that DuckDB's latest run rewrote, and
    those Spark's latest run rewrote. A run stamps the rows it writes with its start time
    (`rebuilt_at`, or `changed_at` for identities), and rows it leaves keep their stamp."""
    nodes = json.loads((layout.dbt_target / "manifest.json").read_text())["nodes"]
    models = {
        node["name"]: (node["schema"], node["config"]["unique_key"])
        for node in nodes.values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        duck = _units_of_latest_run(
            connection, {name: (f"{schema}.{name}", key) for name, (schema, key) in models.items()}
        )
        spark = _units_of_latest_run(
            connection,
            {
                name: (spark_table_source(layout.spark_warehouse, schema, name), key)
                for name, (schema, key) in models.items()
            },
        )
    return {name: (duck[name], spark[name]) for name in models}


def _units_of_latest_run(
    connection: duckdb.DuckDBPyConnection, tables: dict[str, tuple[str, str]]
) -> dict[str, set[str]]:
    """Model -> the distinct values of its unit column on the rows the latest run stamped
    (the latest run is the newest stamp over all the tables: it wrote some of them)."""
    stamps = {name: _stamp_column(connection, table) for name, (table, _) in tables.items()}
    latest_run = max(
        connection.execute(f"select max({stamps[name]}) from {table}").fetchone()[0]
        for name, (table, _) in tables.items()
    )
    return {
        name: {
            unit
            for (unit,) in connection.execute(
                f"select distinct cast({key} as varchar) from {table} where {stamps[name]} = ?",
                [latest_run],
            ).fetchall()
        }
        for name, (table, key) in tables.items()
    }


def _stamp_column(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    columns = {row[0] for row in connection.execute(f"describe select * from {table}").fetchall()}
    return "rebuilt_at" if "rebuilt_at" in columns else "changed_at"


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("spark")
    generated = generate(root / "generated", rotate_megabytes=0.5, **ORGANISATION)
    layout = DataLayout(root / "data")
    otel = Path(generated.otel_dir)
    logs = [*sorted(otel.glob("logs-*.jsonl")), otel / "logs.jsonl"]
    assert len(logs) >= 3, "the fixture should rotate its log file at least twice"
    metrics = sorted(otel.glob("metrics*.jsonl"))

    # First: the middle of the period, the directory and the bill.
    first = root / "batch1"
    first.mkdir()
    for file in logs[1:-1] + metrics:
        shutil.copy(file, first / file.name)
    land_otel([first], layout)
    pull_generated_compliance(generated, layout)
    pull_generated_billing(BillingData.load(Path(generated.output_dir)), layout)
    full, full_rewritten = _build_both(layout, spark_from_cli=True)

    # Then: the earliest file (late: older than anything staged) and the live file.
    second = root / "batch2"
    second.mkdir()
    for file in (logs[0], logs[-1]):
        shutil.copy(file, second / file.name)
    land_otel([second], layout)
    incremental, incremental_rewritten = _build_both(layout)
    return {
        "latest_rebuilds": _latest_rebuilds(layout),
        "full": full,
        "full_rewritten": full_rewritten,
        "incremental": incremental,
        "incremental_rewritten": incremental_rewritten,
        "layout": layout,
    }


def test_spark_builds_the_same_marts_as_duckdb(two_batches) -> None:
    comparisons = two_batches["full"]
    assert describe_differences(comparisons) == ""
    assert len(comparisons) == 18
    # Not a comparison of empty tables.
    populated = {c.mart for c in comparisons if c.rows > 0}
    assert {"fct_api_requests", "fct_cost_daily", "dim_users", "fct_sessions"} <= populated
    assert {"fct_billed_cost_daily", "fct_cost_reconciliation_daily"} <= populated
    assert {"fct_claude_code_productivity_daily", "fct_activity_reconciliation_daily"} <= populated


def test_incremental_builds_agree_too(two_batches) -> None:
    comparisons = two_batches["incremental"]
    assert describe_differences(comparisons) == ""
    before = {c.mart: c.rows for c in two_batches["full"]}
    grown = [c.mart for c in comparisons if c.rows > before[c.mart]]
    assert "fct_api_requests" in grown


def test_spark_overwrites_only_the_days_duckdb_restaged(two_batches) -> None:
    restaged, _ = two_batches["latest_rebuilds"]["stg_otel__events"]
    rewritten = two_batches["incremental_rewritten"]
    assert restaged, "the second batch should re-stage some days"
    assert rewritten == restaged
    # Some days were left alone, so this was not a full rebuild in disguise.
    assert set(two_batches["full_rewritten"]) - rewritten


def test_spark_rebuilds_what_duckdb_rebuilds_in_every_incremental_model(two_batches) -> None:
    """The incremental run rewrites the same days, sessions, prompts and identities on both
    engines: Spark's key models replace only the keys that changed, so the models
    downstream see the same changes (not every identity and day as changed)."""
    rebuilds = two_batches["latest_rebuilds"]
    assert len(rebuilds) >= 20
    differing = {
        model: (len(duck), len(spark), sorted(duck ^ spark)[:5])
        for model, (duck, spark) in rebuilds.items()
        if duck != spark
    }
    assert not differing
    rebuilt_sessions, _ = rebuilds["fct_sessions"]
    assert rebuilt_sessions, "the second batch should rebuild some sessions"
    # Not everything: the sessions wholly in the first batch's days were left as they were.
    assert rebuilt_sessions < _session_ids(two_batches["layout"])


def test_spark_keeps_its_build_apart_from_the_duckdb_build(two_batches) -> None:
    layout = two_batches["layout"]
    assert (layout.spark_build / "metastore_db").is_dir()
    assert (layout.spark_build / "dbt-target" / "manifest.json").exists()
    # Spark's build leaves the publish gate (the DuckDB build's outcome) alone.
    assert not layout.serving_database.exists()


def test_every_dbt_unit_test_passes_on_spark(two_batches) -> None:
    results = run_unit_tests(two_batches["layout"], "spark")
    assert {node["unique_id"] for node in results} == unit_tests_in_manifest()
    assert {node["status"] for node in results} == {"pass"}
