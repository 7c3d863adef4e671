"""The alerts asset: after each publish, send the alerts the marts call for (once each)."""

from datetime import UTC, datetime

import dagster as dg

from alerting.detect import DetectionSettings
from alerting.run import NOT_CONFIGURED_NOTICE, send_detected_alerts
from orchestration.defs.resources import SettingsResource


@dg.asset(
    key=["alerts", "deliveries"],
    group_name="alerts",
    deps=[dg.AssetKey(["serving", "warehouse"])],
    kinds={"slack"},
)
def alert_deliveries(
    context: dg.AssetExecutionContext, settings: SettingsResource
) -> dg.MaterializeResult:
    """Budget, cost-anomaly, security and telemetry alerts to `COWORK_ALERT_WEBHOOK_URL`.

    Each alert is sent once (`state/alerts.sqlite`); one whose delivery failed is retried
    next run. A delivery failure, or an error while detecting, never fails the run: it is
    logged and shown in the metadata.
    """
    configured = settings.settings()
    if configured.alert_webhook_url is None:
        context.log.info(NOT_CONFIGURED_NOTICE)
        return dg.MaterializeResult(metadata={"configured": False, "sent": 0})
    try:
        summary = send_detected_alerts(
            settings.layout().root,
            url=configured.alert_webhook_url.value,
            now=datetime.now(UTC),
            settings=DetectionSettings.from_settings(configured),
        )
    except Exception as error:  # alerts must not fail the pipeline
        context.log.warning(f"alerts not detected: {type(error).__name__}: {error}")
        return dg.MaterializeResult(
            metadata={"configured": True, "error": f"{type(error).__name__}: {error}"}
        )
    context.log.info(
        f"alerts: {len(summary.sent)} sent, {len(summary.failed)} failed,"
        f" {len(summary.already_sent)} already sent (webhook {summary.webhook_host})"
    )
    for key, error in summary.failed.items():
        context.log.warning(f"alert {key} not delivered ({error}); retried next run")
    return dg.MaterializeResult(
        metadata={
            **summary.metadata(),
            "sent_keys": dg.MetadataValue.json(summary.sent),
            "failed_keys": dg.MetadataValue.json(summary.failed),
        }
    )
