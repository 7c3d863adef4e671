"""How stale a source may get before someone should look (the freshness checks' rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Freshness:
    """The verdict on a source's newest record."""

    passed: bool
    failed_hard: bool  # past the failure threshold, not only the warning one
    lag_hours: float | None  # None: nothing has landed yet


def judge_freshness(
    newest: datetime | None, now: datetime, warn_after_hours: float, fail_after_hours: float
) -> Freshness:
    """Passes while the newest record is at most `warn_after_hours` old.

    Nothing landed yet counts as failing hard: a source that was configured and never
    delivered needs a look as much as one that stopped.
    """
    if newest is None:
        return Freshness(passed=False, failed_hard=True, lag_hours=None)
    lag_hours = max((now - newest).total_seconds(), 0.0) / 3600
    return Freshness(
        passed=lag_hours <= warn_after_hours,
        failed_hard=lag_hours > fail_after_hours,
        lag_hours=lag_hours,
    )
