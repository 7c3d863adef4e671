"""The pipeline job and its schedule: land, build, publish."""

from __future__ import annotations

import dagster as dg

PIPELINE_JOB_NAME = "cowork_pipeline"

cowork_pipeline = dg.define_asset_job(
    PIPELINE_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Land new OTel files, build the warehouse with its tests, publish for readers.",
)

hourly_pipeline = dg.ScheduleDefinition(
    name="hourly_pipeline",
    job=cowork_pipeline,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
)

otel_landing_job = dg.define_asset_job(
    "otel_landing_job",
    selection=dg.AssetSelection.assets(["otel", "events"], ["otel", "metrics"]),
    description="Land new OTel collector files only (started by the new-files sensor).",
)
