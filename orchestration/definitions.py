"""Dagster definitions for cowork-analytics (the code location)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.jobs import cowork_pipeline, hourly_pipeline
from orchestration.defs.otel.assets import otel_events
from orchestration.defs.resources import build_resources
from orchestration.defs.serving.assets import serving_warehouse


def build_definitions() -> dg.Definitions:
    """All assets, jobs and schedules, with resources configured from the environment now."""
    return dg.Definitions(
        assets=[otel_events, warehouse_dbt_assets, serving_warehouse],
        jobs=[cowork_pipeline],
        schedules=[hourly_pipeline],
        resources=build_resources(),
    )


defs = build_definitions()
