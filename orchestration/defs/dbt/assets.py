"""Every dbt model and seed as a Dagster asset, with dbt tests as asset checks."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.dbt.translator import LayerTranslator
from orchestration.defs.resources import WAREHOUSE_POOL, SettingsResource
from warehouse.build import dbt_arguments
from warehouse.build_state import building


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=LayerTranslator(),
    # Every step that writes the DuckDB build database takes a slot of this pool (limit 1),
    # so overlapping runs queue here instead of failing on DuckDB's file lock.
    pool=WAREHOUSE_POOL,
)
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SettingsResource
):
    """Build the warehouse (models, seeds and tests) into the build database."""
    layout = settings.layout()
    # The pool covers runs of this Dagster instance; the lock `building` holds also covers
    # the CLI and other instances on the same data directory.
    with building(
        layout, context.run.run_id, on_wait=lambda: context.log.info("waiting for another build")
    ) as attempt:
        if attempt.discarded:
            context.log.warning(
                f"the build database could not be opened; moved to {attempt.discarded},"
                " rebuilding every model from the landed data"
            )
        # The command line of `cowork-analytics build`: the same target folder (under the
        # same lock) and the same target, log folder and vars, so dbt's partial parse state
        # carries over between CLI builds and runs (a changed `--target` or `--vars` makes
        # dbt parse the whole project again, 8 s on the demo) and nothing piles up.
        invocation = dbt.cli(
            dbt_arguments("build", layout, settings=settings.settings()),
            context=context,
            raise_on_error=False,
            target_path=layout.dbt_target,
        )
        yield from invocation.stream()
        passed = invocation.is_successful()
        attempt.finish(passed, [] if passed else _error_messages(invocation))
    if attempt.damaged:
        # The retry finds the outcome `damaged`, moves the file aside and rebuilds it.
        raise dg.RetryRequested(max_retries=1) from invocation.get_error()
    if attempt.busy:
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
