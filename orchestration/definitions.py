"""Dagster definitions for cowork-analytics (the code location)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from configuration.settings import Settings
from orchestration.defs.alerts.assets import alert_deliveries
from orchestration.defs.alerts.sensors import alert_on_failed_checks, alert_on_run_failure
from orchestration.defs.billing.assets import billing_pull
from orchestration.defs.checks.freshness import (
    compliance_activities_freshness,
    otel_events_freshness,
)
from orchestration.defs.checks.telemetry_health import (
    TelemetryHealthResource,
    recent_telemetry_health,
)
from orchestration.defs.compliance_api.assets import compliance_api_pull
from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.jobs import (
    PIPELINE_JOB_NAME,
    build_hourly_schedule,
    build_pipeline_job,
    otel_landing_job,
)
from orchestration.defs.otel.assets import otel_landing
from orchestration.defs.otel.sensors import new_otel_files
from orchestration.defs.reports.assets import (
    cost_report,
    cost_report_job,
    daily_cost_report_schedule,
)
from orchestration.defs.resources import build_resources
from orchestration.defs.serving.assets import serving_warehouse


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """All assets, jobs and schedules, with resources carrying `settings`.

    Args:
        settings: what to run with; by default read from the environment now, the one
            place the code location reads it (a bad setting fails the load in one line).
    """
    settings = settings or Settings.from_environment()
    pipeline = build_pipeline_job(
        pull_compliance=settings.compliance_api_key is not None,
        pull_billing=settings.admin_api_key is not None or settings.analytics_api_key is not None,
    )
    return dg.Definitions(
        assets=[
            otel_landing,
            compliance_api_pull,
            billing_pull,
            warehouse_dbt_assets,
            serving_warehouse,
            cost_report,
            alert_deliveries,
        ],
        asset_checks=[
            otel_events_freshness,
            compliance_activities_freshness,
            recent_telemetry_health,
        ],
        jobs=[pipeline, otel_landing_job, cost_report_job],
        schedules=[build_hourly_schedule(pipeline), daily_cost_report_schedule],
        sensors=[new_otel_files, alert_on_run_failure, alert_on_failed_checks],
        resources={**build_resources(settings), "telemetry_health": TelemetryHealthResource()},
    )


defs = build_definitions()


def pipeline_job_for(data_dir: str, otel_dirs: list[str]) -> dg.JobDefinition:
    """The pipeline job on a data directory: what `dg.build_reconstructable_job` rebuilds.

    A re-execution's step processes call this with the paths the command ran with; every
    other setting they read from their environment, as the command did.
    """
    settings = Settings.from_environment().with_changes(
        data_dir=Path(data_dir), configured_otel_dirs=tuple(Path(path) for path in otel_dirs)
    )
    return build_definitions(settings).resolve_job_def(PIPELINE_JOB_NAME)
