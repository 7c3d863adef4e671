"""How dbt nodes appear in Dagster: grouped by their layer folder (staging, marts, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator


class LayerTranslator(DagsterDbtTranslator):
    """Groups each model by its top folder, the same name as its DuckDB schema."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The layer folder under models/ (seeds are `reference`)."""
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)
