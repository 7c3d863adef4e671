"""Telemetry health: warn when a source's recent events are too often incomplete or messy.

Judges `fct_telemetry_health` in the build database after dbt materialises it. It only warns:
the marts are right about what arrived; this says how far to trust that it is all there.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.resources import WAREHOUSE_POOL, SettingsResource
from orchestration.lib.telemetry_health import (
    HealthThresholds,
    SourceHealth,
    TelemetryHealth,
    judge_telemetry_health,
)
from warehouse.build_state import warehouse_lock

TELEMETRY_HEALTH_KEY = next(
    key for key in warehouse_dbt_assets.keys if key.path[-1] == "fct_telemetry_health"
)

# Per source, its `lookback_days` most recent days that have rows, summed.
_RECENT_HEALTH = """
with recent as (
    select
        *,
        dense_rank() over (partition by source order by activity_date desc) as recency
    from marts.fct_telemetry_health
)
select
    source,
    min(activity_date),
    max(activity_date),
    sum(events),
    sum(events_without_email),
    sum(unknown_event_names),
    sum(sequence_gap_events),
    sum(duplicate_deliveries),
    sum(late_arrivals)
from recent
where recency <= ?
group by source
order by source
"""


class TelemetryHealthResource(dg.ConfigurableResource):
    """Thresholds of the telemetry-health check (change them in the Dagster config).

    Each `max_share_*` is the largest acceptable share of a source's events over its
    `lookback_days` most recent days; a share equal to it passes.
    """

    max_share_without_email: float = 0.05
    max_share_unknown_event_names: float = 0.01
    max_share_sequence_gaps: float = 0.01
    # Both are handled (deduplicated, re-staged); a rising share means a collector that
    # retries or buffers.
    max_share_duplicate_deliveries: float = 0.05
    max_share_late_arrivals: float = 0.05
    lookback_days: int = 1

    def thresholds(self) -> HealthThresholds:
        """The thresholds as the judging function takes them."""
        return HealthThresholds(
            without_email=self.max_share_without_email,
            unknown_event_names=self.max_share_unknown_event_names,
            sequence_gaps=self.max_share_sequence_gaps,
            duplicate_deliveries=self.max_share_duplicate_deliveries,
            late_arrivals=self.max_share_late_arrivals,
        )


def read_recent_health(database: Path, lookback_days: int) -> list[SourceHealth]:
    """Each source's figures over its `lookback_days` most recent days (none before a build).

    Args:
        database: the build database (opened read-only).
        lookback_days: how many of each source's most recent days to sum.
    """
    if not database.exists():
        return []
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(_RECENT_HEALTH, [lookback_days]).fetchall()
    return [SourceHealth(*row[:3], *(int(figure) for figure in row[3:])) for row in rows]


def _metadata(verdict: TelemetryHealth, settings: TelemetryHealthResource) -> dict[str, object]:
    thresholds = {f"max_share_{name}": value for name, value in vars(settings.thresholds()).items()}
    metadata: dict[str, object] = {
        "sources": len(verdict.sources),
        "breaches": dg.MetadataValue.md(
            "\n".join(f"- {breach}" for breach in verdict.breaches) or "none"
        ),
        "thresholds": dg.MetadataValue.json(
            {**thresholds, "lookback_days": settings.lookback_days}
        ),
    }
    for source in verdict.sources:
        health = source.health
        metadata[health.source] = dg.MetadataValue.json(
            {
                "days": f"{health.first_day} to {health.last_day}",
                "events": health.events,
                "events_without_email": health.events_without_email,
                "unknown_event_names": health.unknown_event_names,
                "sequence_gap_events": health.sequence_gap_events,
                "duplicate_deliveries": health.duplicate_deliveries,
                "late_arrivals": health.late_arrivals,
                **{f"share_{name}": round(share, 6) for name, share in source.shares.items()},
            }
        )
    return metadata


@dg.asset_check(
    asset=TELEMETRY_HEALTH_KEY,
    description="Warn when a source's most recent day(s) have too many events without an "
    "e-mail or with unknown names, missing records, duplicate deliveries or late arrivals.",
    # It reads the build database, which a build in another run must not find open.
    pool=WAREHOUSE_POOL,
)
def recent_telemetry_health(
    settings: SettingsResource, telemetry_health: TelemetryHealthResource
) -> dg.AssetCheckResult:
    """Judge each source's most recent day(s) in fct_telemetry_health against the thresholds."""
    layout = settings.layout()
    with warehouse_lock(layout):
        sources = read_recent_health(layout.build_database, telemetry_health.lookback_days)
    verdict = judge_telemetry_health(sources, telemetry_health.thresholds())
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=_metadata(verdict, telemetry_health),
    )
