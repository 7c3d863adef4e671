"""The demo path end to end: generate, land, dbt build, publish, and check against ground truth."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from simulation.verify import mart_mismatches

pytestmark = pytest.mark.e2e
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    data_dir = tmp_path_factory.mktemp("demo")
    environment = {
        k: v for k, v in os.environ.items() if k not in ("COWORK_OTEL_DIR", "DAGSTER_HOME")
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "cowork-analytics"),
            "demo",
            "--data-dir",
            str(data_dir),
            "--users",
            "15",
            "--days",
            "5",
            "--seed",
            "3",
            "--end-date",
            "2026-02-27",
        ],
        cwd=REPOSITORY_ROOT,
        env={**environment, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return data_dir, completed


def test_marts_match_ground_truth_exactly(demo_run) -> None:
    data_dir, _ = demo_run
    serving = data_dir / "serving" / "warehouse.duckdb"
    assert mart_mismatches(serving, data_dir / "simulated" / "ground_truth") == []
    with (data_dir / "simulated" / "ground_truth" / "user_daily.csv").open() as handle:
        truth_total = sum(Decimal(row["cost_usd"]) for row in csv.DictReader(handle))
    with duckdb.connect(str(serving), read_only=True) as connection:
        mart_total, rows = connection.execute(
            "select sum(cost_usd), count(*) from marts.fct_cost_daily"
        ).fetchall()[0]
    assert rows > 0
    assert mart_total == truth_total  # to the nano-dollar, so to the micro-dollar too


def test_demo_prints_where_things_are_and_a_summary(demo_run) -> None:
    data_dir, completed = demo_run
    output = completed.stdout
    assert "matches the generator's ground truth exactly" in output
    # Sydney and Tokyo mornings of the first local day fall on the UTC day before.
    assert "Cost summary 2026-02-22 to 2026-02-27" in output
    assert str(data_dir / "serving" / "warehouse.duckdb") in output
    assert "@" not in output  # no e-mail addresses in the console


def test_serving_database_holds_the_marts_schema_only(demo_run) -> None:
    data_dir, _ = demo_run
    with duckdb.connect(
        str(data_dir / "serving" / "warehouse.duckdb"), read_only=True
    ) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
    assert {schema for schema, _ in tables} == {"marts"}
    assert {
        "dim_users",
        "fct_user_daily_activity",
        "fct_cost_daily",
        "fct_sessions",
        "fct_prompts",
        "fct_api_requests",
        "fct_tool_calls",
        "fct_cost_by_tool",
        "fct_team_cost_monthly",
    } <= {table for _, table in tables}


def test_rerunning_the_pipeline_lands_nothing_new_and_keeps_the_numbers(demo_run) -> None:
    data_dir, _ = demo_run
    environment = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "cowork-analytics"), "run", "--data-dir", str(data_dir)],
        cwd=REPOSITORY_ROOT,
        env={
            **environment,
            "COWORK_OTEL_DIR": str(data_dir / "simulated" / "otel"),
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = " ".join(completed.stdout.split())
    assert "OTel landed │ 0 records" in summary
    assert "Published │ 18 marts" in summary and "dbt models and seeds built" in summary
    # The demo's period ended months ago: only the freshness checks may fail, and they must.
    failed = re.findall(r"failed ([\w/]+:\w+)", summary)
    assert failed and all(name.endswith("_freshness") for name in failed), failed
    assert (
        mart_mismatches(
            data_dir / "serving" / "warehouse.duckdb", data_dir / "simulated" / "ground_truth"
        )
        == []
    )


def test_demo_pulls_the_compliance_side_without_leaking_the_key(demo_run) -> None:
    data_dir, completed = demo_run
    assert "Compliance pulled" in completed.stdout
    users = duckdb.sql(
        f"select count(distinct id) from read_parquet('{data_dir}/landing/compliance/users/*/*.parquet')"
    ).fetchall()[0][0]
    assert users == 15
    for path in data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert b"demo-emulator-key" not in path.read_bytes(), path


def test_the_pipeline_builds_before_anything_has_landed(tmp_path: Path) -> None:
    """No OTel folder yet and no Compliance or billing key: the run succeeds with one notice
    per source and the marts are empty."""
    empty = tmp_path / "otel"
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DAGSTER_HOME",
            "ANTHROPIC_COMPLIANCE_API_KEY",
            "ANTHROPIC_ADMIN_API_KEY",
            "ANTHROPIC_ANALYTICS_API_KEY",
        )
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "cowork-analytics"),
            "run",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=REPOSITORY_ROOT,
        env={**environment, "COWORK_OTEL_DIR": str(empty), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = " ".join(completed.stdout.split())
    assert output.count("ANTHROPIC_COMPLIANCE_API_KEY is not set") == 1
    assert output.count("nor ANTHROPIC_ANALYTICS_API_KEY is set") == 1
    assert output.count(f"collector folder {empty} does not exist") == 1
    with duckdb.connect(
        str(tmp_path / "data" / "serving" / "warehouse.duckdb"), read_only=True
    ) as connection:
        assert connection.execute("select count(*) from marts.fct_cost_daily").fetchall() == [(0,)]


def _uv() -> str:
    bootstrapped = REPOSITORY_ROOT / ".tools" / "bin" / "uv"
    found = str(bootstrapped) if bootstrapped.exists() else shutil.which("uv")
    assert found, "uv is bootstrapped by `make` into .tools/bin"
    return found


def test_serving_file_opens_in_an_older_duckdb(demo_run) -> None:
    """BI tools embed DuckDB 1.x (Superset pins duckdb<2): every mart reads there too."""
    data_dir, _ = demo_run
    serving = data_dir / "serving" / "warehouse.duckdb"
    reader = (
        "import duckdb, json, sys\n"
        "connection = duckdb.connect(sys.argv[1], read_only=True)\n"
        'tables = connection.execute("select table_name from duckdb_tables()'
        " where schema_name = 'marts' order by 1\").fetchall()\n"
        "counts = {t: connection.execute(f'select count(*) from marts.{t}').fetchone()[0]"
        " for (t,) in tables}\n"
        "print(json.dumps({'version': duckdb.__version__, 'counts': counts}))\n"
    )
    completed = subprocess.run(
        [
            _uv(),
            "run",
            "--no-project",
            "--python",
            sys.executable,
            "--with",
            "duckdb<2",
            "python",
            "-c",
            reader,
            str(serving),
        ],
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    older = json.loads(completed.stdout.strip().splitlines()[-1])
    assert older["version"].startswith("1.")
    with duckdb.connect(str(serving), read_only=True) as connection:
        expected = {
            table: connection.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for (table,) in connection.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    assert older["counts"] == expected
    assert len(expected) >= 13


def test_every_mart_is_exported_to_parquet(demo_run) -> None:
    data_dir, _ = demo_run
    parquet = data_dir / "serving" / "parquet"
    with duckdb.connect(
        str(data_dir / "serving" / "warehouse.duckdb"), read_only=True
    ) as connection:
        marts = connection.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
        assert len(marts) >= 13  # Regression: an empty marts schema passed this loop
        for (mart,) in marts:
            single = parquet / f"{mart}.parquet"
            files = str(single) if single.exists() else f"{parquet / mart}/*/*.parquet"
            exported = connection.execute(
                f"select count(*) from read_parquet('{files}', hive_partitioning = true)"
            ).fetchone()[0]
            assert (
                exported == connection.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            ), mart


def test_the_demo_ends_by_writing_the_cost_report(demo_run) -> None:
    data_dir, completed = demo_run
    reports = data_dir / "serving" / "reports"
    last = completed.stdout.strip().splitlines()[-1]
    assert last == f"Cost report: {reports / 'cost-2026-02.html'}"
    for suffix in ("html", "md", "csv"):
        assert (reports / f"cost-2026-02.{suffix}").stat().st_size > 0
