"""The serving database that BI tools read, published after the warehouse builds."""

import dagster as dg

from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.resources import WAREHOUSE_POOL, DataDirResource
from warehouse.build_state import BuildNotPublishableError, require_publishable, warehouse_lock
from warehouse.export import export_parquet
from warehouse.publish import ServingPrivacy, publish_serving, unique_keys_from_manifest

MART_KEYS = [
    key for key, group in warehouse_dbt_assets.group_names_by_key.items() if group == "marts"
]


@dg.asset(
    key=["serving", "warehouse"],
    group_name="serving",
    deps=MART_KEYS,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def serving_warehouse(
    context: dg.AssetExecutionContext, data_dir: DataDirResource
) -> dg.MaterializeResult:
    """The marts in `serving/warehouse.duckdb` (swapped in atomically) and as Parquet.

    Under privacy `strict`, people appear only as keyed pseudonyms (`COWORK_PII_PEPPER`).
    """
    layout = data_dir.layout()
    privacy = ServingPrivacy.from_environment(dbt_project.manifest_path)
    with warehouse_lock(layout, on_wait=lambda: context.log.info("waiting for another build")):
        try:
            # Another run may have built since this run's dbt step: publish only a build
            # that passed, never one that failed or is half done.
            require_publishable(layout)
        except BuildNotPublishableError as error:
            raise dg.Failure(description=str(error)) from None
        result = publish_serving(
            layout.build_database,
            layout.serving_database,
            unique_keys=unique_keys_from_manifest(dbt_project.manifest_path),
            privacy=privacy,
        )
        exported = export_parquet(layout.serving_database, layout.serving_parquet)
    context.log.info(
        f"published {len(result.tables)} table(s) to {result.path} (privacy {privacy.mode})"
    )
    context.log.info(f"wrote {sum(exported.values())} Parquet file(s) to {layout.serving_parquet}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "parquet": dg.MetadataValue.path(str(layout.serving_parquet)),
            "privacy": privacy.mode.value,
            **{f"rows.{name}": rows for name, rows in result.tables.items()},
        }
    )
