"""The pipeline job and its schedule: land, pull, build, publish."""

from __future__ import annotations

import dagster as dg

PIPELINE_JOB_NAME = "cowork_pipeline"
# The run queue admits one run with this tag at a time (`tag_concurrency_limits` in
# deploy/dagster/dagster.yaml): an overlapping schedule and manual run show as queued.
BUILDS_WAREHOUSE_TAG = "cowork/builds-warehouse"
COMPLIANCE_ASSETS = dg.AssetSelection.key_prefixes(["compliance_api"])
BILLING_ASSETS = dg.AssetSelection.key_prefixes(["billing"])
# Reports have their own daily schedule; the hourly pipeline does not rewrite them.
REPORT_ASSETS = dg.AssetSelection.groups("reports")


def build_pipeline_job(
    pull_compliance: bool, pull_billing: bool = False
) -> dg.UnresolvedAssetJobDefinition:
    """Everything but the reports, and without the pulls whose keys are not configured.

    Leaving the pulls out (rather than letting them skip) matters: a step whose upstream
    produced nothing is skipped, so skipped pulls would stop the dbt build too, while
    without a Compliance or billing key the marts must still build from OTel alone.
    """
    selection = dg.AssetSelection.all() - REPORT_ASSETS
    if not pull_compliance:
        selection = selection - COMPLIANCE_ASSETS
    if not pull_billing:
        selection = selection - BILLING_ASSETS
    return dg.define_asset_job(
        PIPELINE_JOB_NAME,
        selection=selection,
        tags={BUILDS_WAREHOUSE_TAG: "true"},
        description="Land new OTel files, pull the Compliance API and the billing reports "
        "(when their keys are set), build the warehouse with its tests, publish for readers.",
    )


def build_hourly_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Run the pipeline at the top of every hour (UTC)."""
    return dg.ScheduleDefinition(
        name="hourly_pipeline", job=job, cron_schedule="0 * * * *", execution_timezone="UTC"
    )


otel_landing_job = dg.define_asset_job(
    "otel_landing_job",
    selection=dg.AssetSelection.assets(
        ["otel", "events"], ["otel", "metrics"], ["otel", "content"]
    ),
    description="Land new OTel collector files only (started by the new-files sensor).",
)
