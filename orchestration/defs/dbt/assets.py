"""Every dbt model and seed as a Dagster asset, with dbt tests as asset checks."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.dbt.translator import LayerTranslator
from orchestration.defs.resources import DataDirResource


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=LayerTranslator())
def warehouse_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, data_dir: DataDirResource
):
    """Build the warehouse (models, seeds and tests) into the build database."""
    data_dir.layout().build_database.parent.mkdir(parents=True, exist_ok=True)
    yield from dbt.cli(["build"], context=context).stream()
