"""The Slack-compatible payload: `text` (the fallback every receiver shows) plus `blocks`.

Slack incoming webhooks render the blocks; Mattermost and Teams (Slack-compatible
connectors) and generic receivers use `text`. An alert's fields come from mart columns only,
which never hold prompt text; as a last guard, anything shaped like an API key, a bearer
token or a webhook URL is redacted before it leaves.
"""

from __future__ import annotations

import re
from typing import Any

from alerting.alerts import Alert, Severity

# Slack's limits: a header is at most 150 characters, a section at most 10 fields.
HEADER_LIMIT = 150
FIELD_LIMIT = 10
_SECRETS = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]+"
    r"|xox[abposr]-[A-Za-z0-9\-]+"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]+"
    r"|https?://hooks\.slack\.com/\S+"
    r"|https?://[^\s/]*webhook[^\s]*)"
)
_ICONS = {Severity.HIGH: ":red_circle:", Severity.MEDIUM: ":large_orange_circle:"}


def redact(text: str) -> str:
    """`text` with API keys, tokens and webhook URLs replaced by `[redacted]`."""
    return _SECRETS.sub("[redacted]", text)


def _escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(alert: Alert) -> str | None:
    if not alert.link:
        return None
    if alert.link.startswith(("http://", "https://")):
        return f"<{alert.link}|{_escape(alert.link_label)}>"
    return f"{_escape(alert.link_label)}: `{_escape(alert.link)}`"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body to POST for one alert."""
    link = _link(alert)
    fallback = f"[{alert.severity.value}] {alert.title}: {alert.text}"
    if alert.link:
        fallback += f" ({alert.link_label}: {alert.link})"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": redact(alert.title)[:HEADER_LIMIT],
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{_ICONS[alert.severity]} *{alert.severity.value}* {_escape(alert.text)}",
            },
        },
    ]
    for start in range(0, len(alert.fields), FIELD_LIMIT):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(value)}"}
                    for label, value in alert.fields[start : start + FIELD_LIMIT]
                ],
            }
        )
    context = [f"{alert.kind.value} · key `{_escape(alert.key)}`"]
    if link:
        context.insert(0, link)
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return {"text": redact(fallback), "blocks": blocks}
