"""The serving database that BI tools read, published after the warehouse builds."""

import dagster as dg

from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.resources import WAREHOUSE_POOL, SettingsResource
from warehouse.build_state import BuildNotPublishableError
from warehouse.publish import publish_build

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
    context: dg.AssetExecutionContext, settings: SettingsResource
) -> dg.MaterializeResult:
    """The marts in `serving/warehouse.duckdb` (swapped in atomically) and as Parquet.

    The security signals also go to `serving/security/` as ECS JSON lines, for a SIEM.

    Under privacy `strict`, people appear only as keyed pseudonyms (`COWORK_PII_PEPPER`).
    """
    layout = settings.layout()
    try:
        result = publish_build(
            layout,
            dbt_project.manifest_path,
            settings=settings.settings(),
            on_wait=lambda: context.log.info("waiting for another build"),
        )
    except BuildNotPublishableError as error:
        raise dg.Failure(description=str(error)) from None
    context.log.info(
        f"published {len(result.tables)} table(s) to {result.path} (privacy {result.privacy})"
    )
    files = sum(result.exported.values())
    context.log.info(f"wrote {files} Parquet file(s) to {layout.serving_parquet}")
    security = result.security
    context.log.info(f"security signals in {layout.serving_security}: {security.describe()}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "parquet": dg.MetadataValue.path(str(layout.serving_parquet)),
            "security": dg.MetadataValue.path(str(layout.serving_security)),
            **{f"security.{name}": count for name, count in security.as_dict().items()},
            "privacy": result.privacy.value,
            **{f"rows.{name}": rows for name, rows in result.tables.items()},
        }
    )
