"""The cost report: HTML, Markdown and CSV under `serving/reports/`, rewritten every morning."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.resources import SettingsResource
from reporting.files import reports_directory, write_cost_report
from reporting.periods import months_due

COST_REPORT_JOB_NAME = "cost_report_job"


@dg.asset(
    key=["reports", "cost"],
    group_name="reports",
    deps=[dg.AssetKey(["serving", "warehouse"])],
    kinds={"html", "csv"},
)
def cost_report(
    context: dg.AssetExecutionContext, settings: SettingsResource
) -> dg.MaterializeResult:
    """The current month's cost report (and, on a month's first three days, the closed month's).

    One report per month: `cost-<YYYY-MM>.html` (self-contained, with charts), `.md` and
    `.csv`, read from the published serving database only.
    """
    serving = settings.layout().serving_database
    if not serving.exists():
        raise dg.Failure(
            description=f"no serving database at {serving}: the pipeline has not published yet"
        )
    metadata: dict[str, dg.RawMetadataValue] = {}
    for period in months_due(datetime.now(UTC).date()):
        report, files = write_cost_report(serving, reports_directory(serving), period)
        context.log.info(f"wrote the {period.title} cost report to {files.html}")
        metadata |= {
            f"{period.label}.html": dg.MetadataValue.path(str(files.html)),
            f"{period.label}.total_usd": float(report.total_usd),
            f"{period.label}.anomalies": len(report.anomalies),
            f"{period.label}.budgets_at_risk": len(report.budgets_at_risk),
        }
    return dg.MaterializeResult(metadata=metadata)


cost_report_job = dg.define_asset_job(
    COST_REPORT_JOB_NAME,
    selection=dg.AssetSelection.assets(cost_report),
    description="Write the cost report of the current month from the serving database.",
)

daily_cost_report_schedule = dg.ScheduleDefinition(
    name="daily_cost_report",
    job=cost_report_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="The cost report every morning at 06:00 UTC, after the night's pipeline runs.",
)
