"""The serving database that BI tools read, published after the warehouse builds."""

import dagster as dg

from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.resources import DataDirResource
from warehouse.export import export_parquet
from warehouse.publish import publish_serving, unique_keys_from_manifest

MART_KEYS = [
    key for key, group in warehouse_dbt_assets.group_names_by_key.items() if group == "marts"
]


@dg.asset(key=["serving", "warehouse"], group_name="serving", deps=MART_KEYS, kinds={"duckdb"})
def serving_warehouse(
    context: dg.AssetExecutionContext, data_dir: DataDirResource
) -> dg.MaterializeResult:
    """The marts in `serving/warehouse.duckdb` (swapped in atomically) and as Parquet."""
    layout = data_dir.layout()
    result = publish_serving(
        layout.build_database,
        layout.serving_database,
        unique_keys=unique_keys_from_manifest(dbt_project.manifest_path),
    )
    context.log.info(f"published {len(result.tables)} table(s) to {result.path}")
    exported = export_parquet(layout.serving_database, layout.serving_parquet)
    context.log.info(f"wrote {sum(exported.values())} Parquet file(s) to {layout.serving_parquet}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "parquet": dg.MetadataValue.path(str(layout.serving_parquet)),
            **{f"rows.{name}": rows for name, rows in result.tables.items()},
        }
    )
