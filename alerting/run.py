"""Send what is due: skip what the store says was delivered, POST the rest, record each try."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alerting.alerts import Alert
from alerting.deliver import WebhookSender, webhook_host
from alerting.detect import DetectionSettings, detect_alerts
from alerting.slack import slack_payload
from alerting.store import AlertStore, store_path
from configuration.settings import ALERT_WEBHOOK_URL

LOGGER = logging.getLogger(__name__)
NOT_CONFIGURED_NOTICE = (
    f"Alerts: {ALERT_WEBHOOK_URL} is not set, so no alert is sent (detected alerts are not"
    " recorded either: they go out once a webhook is set)."
)


@dataclass
class SendSummary:
    """What one pass did; keys only (titles can name teams, never prompt text)."""

    configured: bool
    webhook_host: str | None = None
    detected: int = 0
    already_sent: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> error (never the URL)
    would_send: list[Alert] = field(default_factory=list)  # dry run, or not configured

    def metadata(self) -> dict[str, object]:
        """Flat figures for Dagster metadata or a CLI table."""
        return {
            "configured": self.configured,
            "webhook_host": self.webhook_host or "not configured",
            "detected": self.detected,
            "sent": len(self.sent),
            "failed": len(self.failed),
            "already_sent": len(self.already_sent),
        }


def send_alerts(
    alerts: list[Alert],
    data_dir: Path,
    *,
    dry_run: bool = False,
    url: str | None = None,
    sender: WebhookSender | None = None,
) -> SendSummary:
    """Send each alert not delivered before; never raises for a delivery failure.

    Args:
        alerts: detected alerts (duplicates by key are sent once).
        data_dir: the data directory (its `state/alerts.sqlite` is the store).
        dry_run: list what would be sent; send and record nothing.
        url: the webhook (`Settings.alert_webhook_url`); None: not configured.
        sender: a configured sender (tests set its backoff); one for `url` when None.
    """
    url = url or (sender.url if sender else None)
    unique = list({alert.key: alert for alert in alerts}.values())
    summary = SendSummary(configured=url is not None, detected=len(unique))
    store = AlertStore(store_path(data_dir))
    due = []
    for alert in unique:
        if store.was_sent(alert.key):
            summary.already_sent.append(alert.key)
        else:
            due.append(alert)
    if url is None or dry_run:
        summary.would_send = due
        return summary
    # Earlier failures nothing detects again (a run's failure is seen once), retried as kept.
    detected = {alert.key for alert in unique}
    outbox = [(a.key, a.kind.value, a.title, slack_payload(a)) for a in due]
    outbox += [row for row in store.pending() if row[0] not in detected]
    summary.webhook_host = webhook_host(url)
    own_sender = sender is None
    sender = sender or WebhookSender(url)
    try:
        for key, kind, title, payload in outbox:
            outcome = sender.send(payload)
            store.record(
                key, kind, title, outcome.delivered, outcome.attempts, outcome.error, payload
            )
            if outcome.delivered:
                summary.sent.append(key)
            else:
                summary.failed[key] = outcome.error or "not delivered"
    finally:
        if own_sender:
            sender.close()
    if summary.failed:
        LOGGER.warning(
            "%d alert(s) not delivered to %s; they are retried on the next run",
            len(summary.failed),
            summary.webhook_host,
        )
    return summary


def send_detected_alerts(
    data_dir: Path,
    *,
    url: str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    settings: DetectionSettings | None = None,
    sender: WebhookSender | None = None,
) -> SendSummary:
    """Detect alerts in the data directory's serving database and send the new ones.

    `url` is the webhook (None: not configured); `settings` the detection windows.
    """
    serving = data_dir / "serving" / "warehouse.duckdb"
    alerts = detect_alerts(serving, now or datetime.now(UTC), settings)
    return send_alerts(alerts, data_dir, dry_run=dry_run, url=url, sender=sender)
