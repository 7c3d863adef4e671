"""The alert: what happened, how bad, enough context to act, and a stable key for dedup."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AlertKind(StrEnum):
    """What an alert is about; the first part of its key."""

    RUN_FAILED = "run_failed"
    CHECK_FAILED = "check_failed"
    BUDGET = "budget"
    ANOMALY = "anomaly"
    SECURITY = "security"
    TELEMETRY = "telemetry"
    BILLING = "billing"


class Severity(StrEnum):
    """How urgent: `high` wants a look today, `medium` this week."""

    HIGH = "high"
    MEDIUM = "medium"


@dataclass(frozen=True)
class Alert:
    """One alert, sent at most once per `key`.

    Attributes:
        kind: what the alert is about.
        key: stable deduplication key, e.g. `budget:Legal:2026-03:over`,
            `anomaly:user|<user_key>|2026-03-17`, `security:<signal_id>`,
            `run_failed:<run_id>`, `check_failed:<asset>:<check>:<day>`,
            `telemetry:<source>:<day>:silent|degraded`, `billing:<day>:<product>`.
        severity: high or medium.
        title: one line, no people's names (it is the notification text on phones).
        text: what happened and what to do, in a sentence or two.
        fields: (label, value) pairs: who, what, how much.
        link: the cost report or the Dagster run; a URL or a file path.
        link_label: what the link opens.
    """

    kind: AlertKind
    key: str
    severity: Severity
    title: str
    text: str
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    link: str | None = None
    link_label: str = "Open"
