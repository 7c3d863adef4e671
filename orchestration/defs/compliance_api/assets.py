"""Compliance API pulls: one asset per entity, from one polite, rate-limited pull."""

import dagster as dg

from configuration.settings import COMPLIANCE_API_KEY
from ingestion.anthropic_api.errors import AnthropicApiError, PaginationError
from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import pull_compliance
from orchestration.defs.resources import SettingsResource

ENTITIES = (
    "activities",
    "organizations",
    "users",
    "roles",
    "groups",
    "members",
    "sessions",
    "chats",
    "projects",
)
DESCRIPTIONS = {
    "activities": "The Activity Feed, one row per activity; incremental with a watermark.",
    "organizations": "Organisations, a dated snapshot per day.",
    "users": "Organisation members (`user_…` id, e-mail, name, role), a dated snapshot per day.",
    "roles": "RBAC roles, a dated snapshot per day.",
    "groups": "Groups (teams, for cost attribution), a dated snapshot per day.",
    "members": "Group memberships, a dated snapshot per day.",
    "sessions": "Local Cowork / Claude Code session metadata (no content).",
    "chats": "Chat metadata: ids, owners, timestamps, model (no messages).",
    "projects": "Project metadata: ids, owners, timestamps, privacy.",
}


def worth_retrying(error: AnthropicApiError) -> bool:
    """Whether the step's retry policy should try the pull again.

    A listing that would not end, or a refused key or request (4xx but 408/429), fails the
    same way again: retrying would only spend the organisation's shared request budget.
    An outage, a deadline or a proxy's error page may pass.
    """
    if isinstance(error, PaginationError):
        return False
    return error.status is None or error.status >= 500 or error.status in (200, 408, 429)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["compliance_api", entity],
            group_name="landing",
            kinds={"python", "parquet"},
            description=DESCRIPTIONS[entity],
            skippable=True,
        )
        for entity in ENTITIES
    ],
    # All keys of a parent organisation share 600 requests/minute: one pull at a time.
    pool="compliance_api",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
)
def compliance_api_pull(context: dg.AssetExecutionContext, settings: SettingsResource):
    """Pull the Compliance API into Parquet; skipped, with one notice, when no key is set.

    A failed pull (a status, a deadline, a listing that would not end, a body that is not
    JSON) fails the step with the client's one redacted line; malformed records do not
    fail it: they are quarantined and counted in each asset's `quarantined_records`.
    """
    configured = settings.settings()
    if configured.compliance_api_key is None:
        context.log.warning(f"{COMPLIANCE_API_KEY} is not set: Compliance API pulls are skipped")
        return
    layout = settings.layout()
    with ComplianceClient.from_settings(configured) as client:
        try:
            summary = pull_compliance(
                client,
                layout,
                erasure_pepper=configured.erasure_pepper,
                keep_days=configured.raw_retention_days,
            )
        except AnthropicApiError as error:
            # One line naming the endpoint and status (server text redacted, never the key);
            # `from None`: the chained traceback would add nothing a person can act on.
            metadata = {"endpoint": error.path, "status": error.status or "no response"}
            raise dg.Failure(
                description=str(error), metadata=metadata, allow_retries=worth_retrying(error)
            ) from None
    shared = {
        "requests": summary.requests,
        "retries": summary.retries,
        "waited_seconds": summary.waited_seconds,
    }
    for entity in ENTITIES:
        yield dg.MaterializeResult(
            asset_key=["compliance_api", entity],
            metadata={
                "records": summary.records.get(entity, 0),
                "quarantined_records": summary.quarantined.get(entity, 0),
                "erased_records_dropped": summary.erased.get(entity, 0),
                "path": dg.MetadataValue.path(str(layout.compliance(entity))),
                **shared,
            },
        )
