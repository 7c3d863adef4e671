"""How clean a source's recent telemetry must be (the rule of the telemetry-health check).

Each figure is judged as a share of the source's events over its most recent day(s), so the
thresholds mean the same for ten users and for ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# What each share counts, for the check's messages.
SHARE_LABELS = {
    "without_email": "events without an e-mail",
    "unknown_event_names": "events with an unknown event name",
    "sequence_gaps": "records missing inside a client process",
    "duplicate_deliveries": "duplicate deliveries",
    "late_arrivals": "late arrivals",
}


@dataclass(frozen=True)
class SourceHealth:
    """One source's figures summed over its most recent day(s) in `fct_telemetry_health`."""

    source: str
    first_day: date
    last_day: date
    events: int
    events_without_email: int
    unknown_event_names: int
    sequence_gap_events: int
    duplicate_deliveries: int
    late_arrivals: int

    def shares(self) -> dict[str, float]:
        """Each figure as a share of the source's events (0 when it has none).

        Sequence gaps are records that never arrived, so their share is of the records the
        clients sent: the events that arrived plus the missing ones.
        """
        sent = self.events + self.sequence_gap_events
        return {
            "without_email": _share(self.events_without_email, self.events),
            "unknown_event_names": _share(self.unknown_event_names, self.events),
            "sequence_gaps": _share(self.sequence_gap_events, sent),
            "duplicate_deliveries": _share(self.duplicate_deliveries, self.events),
            "late_arrivals": _share(self.late_arrivals, self.events),
        }


@dataclass(frozen=True)
class HealthThresholds:
    """The largest acceptable share of each figure (a share equal to it passes)."""

    without_email: float
    unknown_event_names: float
    sequence_gaps: float
    duplicate_deliveries: float
    late_arrivals: float


@dataclass(frozen=True)
class SourceVerdict:
    """A source's shares and the thresholds they exceed."""

    health: SourceHealth
    shares: dict[str, float]
    breaches: list[str]  # readable, e.g. "otel:cowork: 7.1% events without an e-mail (max 5.0%)"


@dataclass(frozen=True)
class TelemetryHealth:
    """The verdict on every source."""

    passed: bool
    sources: list[SourceVerdict]

    @property
    def breaches(self) -> list[str]:
        """Every exceeded threshold, source by source."""
        return [breach for verdict in self.sources for breach in verdict.breaches]


def judge_telemetry_health(
    sources: list[SourceHealth], thresholds: HealthThresholds
) -> TelemetryHealth:
    """Passes while no source's share exceeds its threshold.

    No source at all passes: whether telemetry arrives is the freshness checks' question.

    Args:
        sources: each source's figures over its most recent day(s).
        thresholds: the largest acceptable share of each figure.

    Returns:
        Whether every source is within the thresholds, with each source's shares and breaches.
    """
    verdicts = []
    for health in sources:
        shares = health.shares()
        breaches = [
            f"{health.source}: {share:.1%} {SHARE_LABELS[name]} (max {maximum:.1%})"
            for name, share in shares.items()
            if share > (maximum := getattr(thresholds, name))
        ]
        verdicts.append(SourceVerdict(health=health, shares=shares, breaches=breaches))
    return TelemetryHealth(
        passed=not any(verdict.breaches for verdict in verdicts), sources=verdicts
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
