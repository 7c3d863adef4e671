"""Freshness of each source: warn after 2 hours without new records, fail after 24."""

from datetime import UTC, datetime

import dagster as dg
import duckdb

from ingestion.landing_schemas import SCHEMA_DIRECTORY
from orchestration.defs.resources import FreshnessResource, SettingsResource
from orchestration.lib.freshness import judge_freshness


def _newest(pattern: str, schema_file: str, column: str) -> datetime | None:
    # Read with the empty schema file, as dbt does, so "nothing landed" is a clean None.
    with duckdb.connect() as connection:
        (newest,) = connection.execute(
            f"select max({column}) from read_parquet([?, ?], allow_empty = true,"
            " union_by_name = true, hive_partitioning = false)",
            [pattern, str(SCHEMA_DIRECTORY / schema_file)],
        ).fetchone()
    return newest


def _result(newest: datetime | None, freshness: FreshnessResource) -> dg.AssetCheckResult:
    verdict = judge_freshness(
        newest, datetime.now(UTC), freshness.warn_after_hours, freshness.fail_after_hours
    )
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR if verdict.failed_hard else dg.AssetCheckSeverity.WARN,
        metadata={
            "newest_record": str(newest) if newest else "nothing landed",
            "lag_hours": verdict.lag_hours if verdict.lag_hours is not None else -1.0,
            "warn_after_hours": freshness.warn_after_hours,
            "fail_after_hours": freshness.fail_after_hours,
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["otel", "events"]),
    description="Newest OTel event: warn when older than 2 h, fail when older than 24 h.",
)
def otel_events_freshness(
    settings: SettingsResource, freshness: FreshnessResource
) -> dg.AssetCheckResult:
    """How long since the newest landed OTel event."""
    pattern = str(settings.layout().otel_events / "*" / "*.parquet")
    return _result(_newest(pattern, "otel__events.parquet", "event_at"), freshness)


@dg.asset_check(
    asset=dg.AssetKey(["compliance_api", "activities"]),
    description="Newest Compliance activity: warn when older than 2 h, fail when older than 24 h.",
)
def compliance_activities_freshness(
    settings: SettingsResource, freshness: FreshnessResource
) -> dg.AssetCheckResult:
    """How long since the newest landed Compliance activity."""
    pattern = str(settings.layout().compliance("activities") / "*" / "*.parquet")
    return _result(_newest(pattern, "compliance_api__activities.parquet", "created_at"), freshness)
