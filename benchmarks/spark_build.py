"""Build the demo organisation on DuckDB and on Spark, time both, and compare the marts.

    .venv/bin/python -m benchmarks.spark_build [--users 50] [--days 14] [--data-dir DIR]

The demo's organisation (50 people over 14 days, Cowork and Claude Code, with its
Compliance directory) is generated with its log rotated every 2 MB. The rotated files are
landed and the directory pulled; then, each timed as the wall time of `build_warehouse`
(dbt build with every test; DuckDB's also publishes):

1. a full build on DuckDB (empty build database), then on Spark (`--target spark`:
   dbt-spark in session mode, local Spark on this machine's cores, an empty catalog);
2. the live file (the newest events) is landed, and an incremental build runs on each;
3. a no-op build on each (nothing new landed: the fixed cost of a run).

The Parquet files Spark's incremental build wrote are counted per schema. Every mart Spark
built is compared with DuckDB's (`warehouse.engine_comparison`), after the full builds and
at the end. The summary is printed and written to `benchmarks/results/spark_build.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from benchmarks.run_facts import run_facts  # noqa: E402
from ingestion.otel.land import land_otel  # noqa: E402
from ingestion.paths import DataLayout  # noqa: E402
from simulation.compliance_pull import pull_generated_compliance  # noqa: E402
from simulation.generate import generate  # noqa: E402
from warehouse.build import BuildResult, build_warehouse  # noqa: E402
from warehouse.engine_comparison import compare_marts, describe_differences  # noqa: E402

# The second landing follows the first by minutes, not the day it would in production: with
# the default hour of late-arrival lookback, every day landed by the first would be
# re-staged too. Without it, an incremental build rebuilds the days the live file touched.
NO_LOOKBACK = {"late_arrival_lookback_hours": 0}
RESULTS = REPOSITORY_ROOT / "benchmarks" / "results" / "spark_build.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="default: a temporary folder, removed")
    arguments = parser.parse_args()

    root = arguments.data_dir or Path(tempfile.mkdtemp(prefix="spark-bench-"))
    try:
        summary = run(root, users=arguments.users, days=arguments.days, seed=arguments.seed)
    finally:
        if arguments.data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def run(root: Path, *, users: int, days: int, seed: int) -> dict[str, object]:
    """Generate, land, build on both engines and compare; the timings and the outcome."""
    end = datetime.now(UTC).date() - timedelta(days=1)
    generated = generate(
        root / "generated", seed=seed, users=users, days=days, end_date=end, rotate_megabytes=2
    )
    layout = DataLayout(root / "data")
    otel = Path(generated.otel_dir)
    rotated = root / "rotated"
    rotated.mkdir()
    for file in otel.iterdir():
        if file.name != "logs.jsonl":
            shutil.copy(file, rotated / file.name)
    land_otel([rotated], layout)
    pull_generated_compliance(generated, layout)

    def on_duckdb() -> BuildResult:
        return build_warehouse(layout, dbt_vars=NO_LOOKBACK)

    def on_spark() -> BuildResult:
        return build_warehouse(layout, target="spark", dbt_vars=NO_LOOKBACK)

    timings = {"duckdb_full": _timed(on_duckdb), "spark_full": _timed(on_spark)}
    after_full = _compared(layout)
    land_otel([otel], layout)  # the live file: the newest events
    timings["duckdb_incremental"] = _timed(on_duckdb)
    before = _parquet_files(layout.spark_warehouse)
    timings["spark_incremental"] = _timed(on_spark)
    rewritten = _rewritten(before, _parquet_files(layout.spark_warehouse))
    timings |= {"duckdb_noop": _timed(on_duckdb), "spark_noop": _timed(on_spark)}
    comparisons, differences = _compared(layout)
    return {
        **run_facts(),
        "organisation": {"users": users, "days": days, "events": generated.events},
        "seconds": {name: round(seconds, 1) for name, (seconds, _) in timings.items()},
        "nodes": {name: nodes for name, (_, nodes) in timings.items()},
        "spark_incremental_rewrote": rewritten,
        "marts_compared": len(comparisons),
        "mart_rows": sum(comparison.rows for comparison in comparisons),
        "marts_equal_after_full": not after_full[1],
        "marts_equal": not differences,
        "differences": after_full[1] + differences,
    }


def _parquet_files(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Every Parquet file of Spark's tables: path -> (bytes, modification time)."""
    files = {}
    for path in warehouse.rglob("*.parquet"):
        status = path.stat()
        files[str(path.relative_to(warehouse))] = (status.st_size, status.st_mtime_ns)
    return files


def _rewritten(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, dict[str, float]]:
    """Per schema: the Parquet files (and megabytes) a build wrote, of those it left."""
    summary: dict[str, dict[str, float]] = {}
    for path, (size, _) in after.items():
        schema = path.split("/", 1)[0].removesuffix(".db")
        entry = summary.setdefault(schema, {"files": 0, "megabytes": 0.0, "of_files": 0})
        entry["of_files"] += 1
        if before.get(path) != after[path]:
            entry["files"] += 1
            entry["megabytes"] += size / 1e6
    for entry in summary.values():
        entry["megabytes"] = round(entry["megabytes"], 2)
    return summary


def _compared(layout: DataLayout) -> tuple[list, str]:
    comparisons = compare_marts(
        layout.build_database, layout.spark_warehouse, layout.dbt_target / "manifest.json"
    )
    return comparisons, describe_differences(comparisons)


def _timed(build) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    result: BuildResult = build()
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"build failed: {result.failures or result.error}")
    return seconds, {
        "models": sum(result.models.values()),
        "tests": sum(result.tests.values()),
    }


if __name__ == "__main__":
    main()
