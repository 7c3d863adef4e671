"""Build the warehouse with dbt on whatever has landed, then publish it for BI tools.

dbt runs in a child process of this interpreter (no `dbt` on PATH needed; the child's exit
releases the build database before publishing reads it). Only when every model and every
blocking test succeeded are the marts published to the serving file. Tests that judge input
quality only warn, so messy data never stops the marts; tests that guard our own logic
(grains, keys) fail the build and leave the serving file as it was. The build holds the
warehouse lock from dbt to publish, and a build file DuckDB cannot open is rebuilt from the
landed Parquet (`warehouse.build_state.building`, as in Dagster's dbt asset); the publish is
`warehouse.publish.publish_build`, as in Dagster's serving asset and erasure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from configuration.settings import Settings
from ingestion.paths import LOCAL_TARGET, DataLayout
from warehouse.build_state import building, warehouse_lock
from warehouse.publish import PublishResult, publish_build

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass
class BuildResult:
    """What one `dbt build` did, and what was published."""

    success: bool
    seconds: float
    models: Counter = field(default_factory=Counter)  # status -> count
    tests: Counter = field(default_factory=Counter)  # data and unit tests: status -> count
    seeds: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # "name: message" of errors/fails
    warnings: list[str] = field(default_factory=list)  # names of warning tests
    published: PublishResult | None = None
    error: str | None = None
    discarded: Path | None = None  # where an unreadable build file was moved aside
    damaged: bool = False  # dbt failed because the build file is damaged


def dbt_vars_for(layout: DataLayout, extra: dict[str, object] | None = None) -> list[str]:
    """The `--vars` of every dbt run on a data directory: where it is, and `extra`.

    The profile and the sources read `cowork_data_dir` (falling back on `COWORK_DATA_DIR`
    for a person running dbt by hand), so a command's `--data-dir` reaches dbt as an
    argument, not through the environment.
    """
    # Absolute, since Spark resolves the landing folders against its own working directory.
    return ["--vars", json.dumps({"cowork_data_dir": str(layout.root.resolve()), **(extra or {})})]


def dbt_arguments(
    command: str,
    layout: DataLayout,
    *,
    settings: Settings | None = None,
    target: str = LOCAL_TARGET,
    full_refresh: bool = False,
    dbt_vars: dict[str, object] | None = None,
) -> list[str]:
    """The dbt command line for this data directory (its own target and log folders).

    The DuckDB memory limit of `settings` (default: the product's defaults) reaches the
    profile as the var `duckdb_memory_limit`.
    """
    settings = settings or Settings(data_dir=layout.root)
    dbt_vars = {"duckdb_memory_limit": settings.duckdb_memory_limit, **(dbt_vars or {})}
    arguments = [
        command,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        target,
        # Per data directory, so two data directories never share dbt's state.
        "--target-path",
        str(layout.dbt_target_for(target)),
        "--log-path",
        str(layout.dbt_logs),
        *dbt_vars_for(layout, dbt_vars),
    ]
    if command == "build":
        # dbt's unit tests check the models' logic on fixed inputs, not the data: the test
        # suite runs them (`dbt test --select test_type:unit`), a production build does not
        # pay their 7 s of node time on every run (dbt's own advice for production).
        arguments += ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        arguments.append("--full-refresh")
    return arguments


def build_warehouse(
    layout: DataLayout,
    *,
    settings: Settings | None = None,
    target: str = LOCAL_TARGET,
    full_refresh: bool = False,
    publish: bool = True,
    quiet: bool = True,
    dbt_vars: dict[str, object] | None = None,
    threads: int | None = None,
    on_wait: Callable[[], None] | None = None,
    lock_held: bool = False,
) -> BuildResult:
    """Run `dbt build` on what has landed under `layout`, then publish the marts.

    Args:
        layout: the data directory (given to dbt as the var `cowork_data_dir`).
        settings: the privacy mode and pepper of the publish (default: the product's
            defaults, `standard`).
        target: the dbt profile target: `local` is the DuckDB build database, which is
            published; `spark` builds the same models with Spark into the data directory's
            `build/spark` (not published: BI tools read the DuckDB serving copy).
        full_refresh: rebuild incremental models from all landed data.
        publish: copy the marts to the serving database when the build succeeded.
        quiet: show only dbt's errors and warnings, not a line per node.
        dbt_vars: values for the project's vars (see dbt_project.yml), e.g. `as_of_date`.
        threads: dbt threads (default: the profile's).
        on_wait: called once when another build holds the warehouse and this one waits.
        lock_held: the caller already holds `warehouse_lock` (e.g. an erasure).

    Returns:
        Counts by node type and status, failures, warnings and the publish result.

    Raises:
        PrivacyLeakError: under `strict`, a table would publish e-mail addresses.
    """
    arguments = dbt_arguments(
        "build",
        layout,
        settings=settings,
        target=target,
        full_refresh=full_refresh,
        dbt_vars=dbt_vars,
    )
    if quiet:
        arguments.append("--quiet")
    if threads:
        arguments += ["--threads", str(threads)]
    started = time.perf_counter()
    with nullcontext() if lock_held else warehouse_lock(layout, on_wait=on_wait):
        if target != LOCAL_TARGET:
            # Spark builds elsewhere and is never published: no outcome to record.
            result = _run_dbt(layout, target, arguments)
        else:
            result = _build_duckdb(layout, arguments)
            if result.damaged:
                # dbt found blocks of the build file damaged: rebuild it from the landed data.
                result = _build_duckdb(layout, arguments)
            if result.success and publish:
                manifest = layout.dbt_target / "manifest.json"
                result.published = publish_build(
                    layout, manifest, settings=settings, lock_held=True
                )
    result.seconds = time.perf_counter() - started
    return result


def _build_duckdb(layout: DataLayout, arguments: list[str]) -> BuildResult:
    with building(layout, f"cli-{os.getpid()}", lock_held=True) as attempt:
        result = _run_dbt(layout, LOCAL_TARGET, arguments)
        attempt.finish(result.success, [*result.failures, result.error or ""])
    result.discarded, result.damaged = attempt.discarded, attempt.damaged
    return result


def _run_dbt(layout: DataLayout, target: str, arguments: list[str]) -> BuildResult:
    """Run dbt in a child process and count what its run results say."""
    run_results = layout.dbt_target_for(target) / "run_results.json"
    run_results.unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *arguments],
        # The project's relative paths (landing schema files, Spark's log settings).
        cwd=PROJECT_DIR,
        check=False,
    )
    result = BuildResult(success=False, seconds=0.0)
    nodes = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    for node in nodes:
        status, unique_id = node["status"], node["unique_id"]
        kind, name = unique_id.split(".")[0], unique_id.split(".")[2]
        if kind in ("test", "unit_test"):
            result.tests[status] += 1
        elif kind == "seed":
            result.seeds[status] += 1
        elif kind == "model":  # not the on-run-start hook (an `operation`)
            result.models[status] += 1
        if status in ("error", "fail"):
            message = (node.get("message") or status).strip().splitlines()
            result.failures.append(f"{name}: {message[0] if message else status}")
        elif status == "warn":
            result.warnings.append(name)
    result.success = completed.returncode == 0 and not result.failures
    if completed.returncode != 0 and not nodes:
        result.error = f"dbt exited with status {completed.returncode} before running any node"
    return result
