"""Every dbt model and seed as a Dagster asset, with dbt tests as asset checks."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.dbt.translator import LayerTranslator
from orchestration.defs.resources import WAREHOUSE_POOL, DataDirResource
from warehouse.build_state import (
    LOCK_CONFLICT_MARKERS,
    discard_if_unreadable,
    record_build,
    reports_damage,
    warehouse_lock,
)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=LayerTranslator(),
    # Every step that writes the DuckDB build database takes a slot of this pool (limit 1),
    # so overlapping runs queue here instead of failing on DuckDB's file lock.
    pool=WAREHOUSE_POOL,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, data_dir: DataDirResource
):
    """Build the warehouse (models, seeds and tests) into the build database."""
    layout = data_dir.layout()
    layout.build_database.parent.mkdir(parents=True, exist_ok=True)
    # The pool covers runs of this Dagster instance; the lock also covers the CLI and
    # other instances on the same data directory.
    with warehouse_lock(layout, on_wait=lambda: context.log.info("waiting for another build")):
        discarded = discard_if_unreadable(layout)
        if discarded:
            context.log.warning(
                f"the build database could not be opened; moved to {discarded}, rebuilding"
                " every model from the landed data"
            )
        record_build(layout, "running", context.run.run_id)
        # The data directory's own dbt target (shared with `cowork-analytics build`, under
        # the same lock), not a new folder per run: dbt's partial parse state is reused and
        # nothing piles up.
        invocation = dbt.cli(
            ["build"], context=context, raise_on_error=False, target_path=layout.dbt_target
        )
        yield from invocation.stream()
        passed = invocation.is_successful()
        messages = [] if passed else _error_messages(invocation)
        damaged = reports_damage(messages)
        outcome = "passed" if passed else "damaged" if damaged else "failed"
        record_build(layout, outcome, context.run.run_id)
    if damaged:
        # The retry finds the outcome `damaged`, moves the file aside and rebuilds it.
        raise dg.RetryRequested(max_retries=1) from invocation.get_error()
    if any(marker in message for message in messages for marker in LOCK_CONFLICT_MARKERS):
        # Something outside the pipeline held the build file: transient, try again later.
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=30) from invocation.get_error()
    if not passed:
        raise invocation.get_error()


def _error_messages(invocation) -> list[str]:
    """The messages of dbt's failed nodes (and the process error), from its run results."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except FileNotFoundError:
        results = []
    messages = [node.get("message") or "" for node in results if node["status"] == "error"]
    return [*messages, str(invocation.get_error() or "")]
