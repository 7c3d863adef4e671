"""The OTel landing: collector files in, partitioned Parquet out (events and metrics)."""

import dagster as dg

from governance.retention import apply_retention
from ingestion.otel.land import LandingSummary, land_otel
from orchestration.defs.resources import QuarantineThresholdsResource, SettingsResource

EVENTS = dg.AssetKey(["otel", "events"])
METRICS = dg.AssetKey(["otel", "metrics"])
CONTENT = dg.AssetKey(["otel", "content"])


def _quarantine_check(
    summary: LandingSummary, thresholds: QuarantineThresholdsResource
) -> dg.AssetCheckResult:
    rate = summary.quarantine_rate
    passed = rate <= thresholds.warn_rate
    severity = (
        dg.AssetCheckSeverity.ERROR if rate > thresholds.error_rate else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        asset_key=EVENTS,
        check_name="quarantine_rate",
        passed=passed,
        severity=severity,
        metadata={
            "quarantined_lines": summary.quarantined_lines,
            "quarantined_records": summary.quarantined_records,
            "lines": summary.lines,
            "rate": rate,
            "warn_above": thresholds.warn_rate,
            "error_above": thresholds.error_rate,
        },
    )


def _none_check(check_name: str, counted: str, count: int) -> dg.AssetCheckResult:
    """A warning check on the events that passes when none of something was landed."""
    return dg.AssetCheckResult(
        asset_key=EVENTS,
        check_name=check_name,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={counted: count},
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            EVENTS,
            group_name="landing",
            kinds={"python", "parquet"},
            description="OTel log records from the collector's file exporter: one Parquet row "
            "per record, partitioned by UTC event date.",
        ),
        dg.AssetSpec(
            METRICS,
            group_name="landing",
            kinds={"python", "parquet"},
            description="OTel metric data points (sums, gauges, histograms) with temporality "
            "and start time, partitioned by UTC point date.",
        ),
        dg.AssetSpec(
            CONTENT,
            group_name="landing",
            kinds={"python", "parquet"},
            description="Prompt, response and tool-input text kept apart from the events under "
            "privacy `standard` (owner-only files), keyed by event_id.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "quarantine_rate",
            asset=EVENTS,
            description="Share of input lines quarantined (warn above 0.1 %, fail above 5 %).",
        ),
        dg.AssetCheckSpec(
            "no_future_timestamps",
            asset=EVENTS,
            description="Events over 15 minutes ahead of the landing clock (client clock skew).",
        ),
        dg.AssetCheckSpec(
            "no_rejected_values",
            asset=EVENTS,
            description="Records landed with a value their typed column rejected (a negative or "
            'non-finite cost, a cost like "$0.02"): null in the column, the raw value kept in '
            "rejected_values_json.",
        ),
    ],
)
def otel_landing(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    otel_quarantine: QuarantineThresholdsResource,
):
    """Land every new complete message of the collector's files; rerunning lands nothing twice."""
    configured = settings.settings()
    layout = settings.layout()
    # A missing collector folder is a notice, not a failure: the Compliance-only marts
    # still build (and the folder may appear once the collector starts).
    folders = [folder for folder in configured.otel_dirs if folder.exists()]
    for folder in set(configured.otel_dirs) - set(folders):
        context.log.warning(f"OTel folder {folder} does not exist: nothing landed from it")
    retention = apply_retention(
        layout,
        content_days=configured.content_retention_days,
        raw_days=configured.raw_retention_days,
    )
    summary = land_otel(
        folders,
        layout,
        privacy=configured.privacy,
        pepper=configured.pepper,
        erasure_pepper=configured.erasure_pepper,
    )
    context.log.info(
        f"landed {summary.records_landed} records and {summary.metric_points_landed} metric points"
        f" from {summary.files_with_new_data} file(s); quarantined {summary.quarantined_lines}"
    )
    if summary.unreadable_files:
        context.log.warning(
            f"{len(summary.unreadable_files)} file(s) could not be read and were left unlanded"
        )
    if summary.unsupported_files:
        context.log.warning(
            f"{len(summary.unsupported_files)} file(s) in an unsupported format were left unlanded"
        )
    metadata = summary.as_dict() | {
        key: value for key, value in retention.as_dict().items() if value is not None
    }
    yield dg.MaterializeResult(
        asset_key=EVENTS,
        metadata={**metadata, "path": dg.MetadataValue.path(str(layout.otel_events))},
    )
    yield dg.MaterializeResult(
        asset_key=METRICS,
        metadata={
            "metric_points_landed": summary.metric_points_landed,
            "path": dg.MetadataValue.path(str(layout.otel_metrics)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=CONTENT,
        metadata={"path": dg.MetadataValue.path(str(layout.otel_content))},
    )
    yield _quarantine_check(summary, otel_quarantine)
    yield _none_check("no_future_timestamps", "future_records", summary.future_records)
    yield _none_check(
        "no_rejected_values", "records_with_rejected_values", summary.records_with_rejected_values
    )
