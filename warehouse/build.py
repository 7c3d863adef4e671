"""Build the warehouse with dbt on whatever has landed, then publish it for BI tools.

dbt runs in a child process of this interpreter (no `dbt` on PATH needed; the child's exit
releases the build database before publishing reads it). Only when every model and every
blocking test succeeded are the marts published to the serving file. Tests that judge input
quality only warn, so messy data never stops the marts; tests that guard our own logic
(grains, keys) fail the build and leave the serving file as it was. The build holds the
warehouse lock from dbt to publish, and a build file DuckDB cannot open is rebuilt from the
landed Parquet (see `warehouse.build_state`).
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

from ingestion.otel.privacy import PrivacyMode, pii_pepper
from ingestion.paths import LOCAL_TARGET, DataLayout
from warehouse.build_state import (
    discard_if_unreadable,
    record_build,
    reports_damage,
    warehouse_lock,
)
from warehouse.export import export_parquet
from warehouse.publish import (
    PublishResult,
    ServingPrivacy,
    publish_serving,
    unique_keys_from_manifest,
)

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


def dbt_arguments(
    command: str, layout: DataLayout, *, target: str = LOCAL_TARGET, full_refresh: bool = False
) -> list[str]:
    """The dbt command line for this data directory (its own target and log folders)."""
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
    ]
    if full_refresh:
        arguments.append("--full-refresh")
    return arguments


def build_warehouse(
    layout: DataLayout,
    *,
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
        layout: the data directory (exported as `COWORK_DATA_DIR` for the dbt profile).
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
        PepperMissingError: privacy `strict` without a pepper (before dbt starts).
        PrivacyLeakError: under `strict`, a mart would publish e-mail addresses.
    """
    pii_pepper(PrivacyMode.parse(os.environ.get("COWORK_PRIVACY")))
    arguments = (layout, target, full_refresh, publish, quiet, dbt_vars, threads)
    with nullcontext() if lock_held else warehouse_lock(layout, on_wait=on_wait):
        result = _build_and_publish(*arguments)
        if result.damaged:
            # dbt found blocks of the build file damaged: rebuild it from the landed data.
            result = _build_and_publish(*arguments)
        return result


def _build_and_publish(
    layout: DataLayout,
    target: str,
    full_refresh: bool,
    publish: bool,
    quiet: bool,
    dbt_vars: dict[str, object] | None,
    threads: int | None,
) -> BuildResult:
    # Absolute, since Spark resolves the landing folders against its own working directory.
    environment = os.environ | {"COWORK_DATA_DIR": str(layout.root.resolve())}
    duckdb_build = target == LOCAL_TARGET
    layout.build_database.parent.mkdir(parents=True, exist_ok=True)
    discarded = discard_if_unreadable(layout) if duckdb_build else None
    arguments = dbt_arguments("build", layout, target=target, full_refresh=full_refresh)
    if quiet:
        arguments.append("--quiet")
    if dbt_vars:
        arguments += ["--vars", json.dumps(dbt_vars)]
    if threads:
        arguments += ["--threads", str(threads)]
    run_results = layout.dbt_target_for(target) / "run_results.json"
    run_results.unlink(missing_ok=True)
    started = time.perf_counter()
    if duckdb_build:  # the outcome gates publishing, which only the DuckDB build does
        record_build(layout, "running", run=f"cli-{os.getpid()}")
    completed = subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *arguments],
        env=environment,
        # The project's relative paths (landing schema files, Spark's log settings).
        cwd=PROJECT_DIR,
        check=False,
    )
    result = BuildResult(success=False, seconds=0.0, discarded=discarded)
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
    failed_damaged = not result.success and reports_damage([*result.failures, result.error or ""])
    result.damaged = duckdb_build and failed_damaged
    outcome = "passed" if result.success else "damaged" if result.damaged else "failed"
    if duckdb_build:
        record_build(layout, outcome, run=f"cli-{os.getpid()}")
    if result.success and publish and duckdb_build:
        manifest = layout.dbt_target / "manifest.json"
        result.published = publish_serving(
            layout.build_database,
            layout.serving_database,
            unique_keys=unique_keys_from_manifest(manifest),
            privacy=ServingPrivacy.from_environment(manifest),
        )
        export_parquet(layout.serving_database, layout.serving_parquet)
    result.seconds = time.perf_counter() - started
    return result
