"""Billing pulls: billed cost, Claude Code and Enterprise Analytics, one asset per report."""

import dagster as dg

from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.billing.pull import BillingClients, pull_billing
from ingestion.billing.records import REPORTS
from orchestration.defs.compliance_api.assets import worth_retrying
from orchestration.defs.resources import SettingsResource

DESCRIPTIONS = {
    "cost_totals": "Billed cost per day (ungrouped: the figures that add up), exact USD.",
    "cost_breakdown": "Billed cost per day by product, model, cost and token type and "
    "workspace (top 100 groups per day: a breakdown, never summed into totals).",
    "claude_code_users": "Claude Code Analytics per user and day: sessions, lines, commits, "
    "pull requests, tool decisions.",
    "claude_code_models": "Claude Code Analytics per user, day and model: tokens and "
    "Anthropic's estimated cost (an estimate, never billed cost).",
    "enterprise_users": "Enterprise Analytics per user and day: chat, Claude Code and Cowork "
    "counts (sessions, messages, actions, commits, lines...), exact (asked one day at a time).",
    "enterprise_summaries": "Enterprise Analytics per day: daily, weekly and monthly active "
    "users, overall and for Cowork and Claude Code, and seats.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["billing", report],
            group_name="landing",
            kinds={"python", "parquet"},
            description=DESCRIPTIONS[report],
            skippable=True,
        )
        for report in REPORTS
    ],
    # The analytics APIs allow 60 requests a minute per organisation: one pull at a time.
    pool="anthropic_billing",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
)
def billing_pull(context: dg.AssetExecutionContext, settings: SettingsResource):
    """Re-pull the trailing days of billed cost, Claude Code and Enterprise Analytics.

    The window is `COWORK_BILLING_BACKFILL_DAYS` (30) days long and ends yesterday.

    Each day of the window is rewritten whole (cost is provisional for about 30 days); a
    source without its key is skipped with one notice. A failed pull fails the step with
    the client's one redacted line.
    """
    configured = settings.settings()
    clients = BillingClients.from_settings(configured)
    try:
        summary = pull_billing(
            clients,
            settings.layout(),
            backfill_days=configured.billing_backfill_days,
            erasure_pepper=configured.erasure_pepper,
            keep_days=configured.raw_retention_days,
        )
    except AnthropicApiError as error:
        metadata = {"endpoint": error.path, "status": error.status or "no response"}
        raise dg.Failure(
            description=str(error), metadata=metadata, allow_retries=worth_retrying(error)
        ) from None
    finally:
        clients.close()
    for notice in summary.notices:
        context.log.warning(notice)
    shared = {
        "requests": summary.requests,
        "retries": summary.retries,
        "restarts": summary.restarts,
        "waited_seconds": summary.waited_seconds,
        "sources": ", ".join(sorted({source for *_, source in summary.windows})) or "none",
    }
    for report in REPORTS:
        if report not in summary.days_replaced:
            continue  # its source was skipped: nothing new to say about it
        yield dg.MaterializeResult(
            asset_key=["billing", report],
            metadata={
                "records": summary.records.get(report, 0),
                "days_rewritten": summary.days_replaced[report],
                "quarantined_records": summary.quarantined.get(report, 0),
                "erased_records_dropped": summary.erased.get(report, 0),
                "path": dg.MetadataValue.path(str(settings.layout().billing(report))),
                **shared,
            },
        )
