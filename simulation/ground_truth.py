"""Ground truth: what the generated events add up to, so marts can be checked exactly."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from simulation.behaviour import Event

TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
NANO = Decimal("0.000000001")
SESSION_COLUMNS = (
    "session_id",
    "user_account_id",
    "prompts",
    "api_requests",
    "cost_usd",
    "first_event_at",
    "last_event_at",
)


@dataclass
class _UserDay:
    prompts: int = 0
    sessions: set[str] = field(default_factory=set)
    api_requests: int = 0
    api_errors: int = 0
    tool_results: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    cost_nano: int = 0


@dataclass
class _Session:
    account_id: str
    prompts: int = 0
    api_requests: int = 0
    cost_nano: int = 0
    first_ns: int = 0
    last_ns: int = 0


class GroundTruth:
    """Accumulates per user per UTC day and per session totals as events are generated."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], _UserDay] = defaultdict(_UserDay)
        self._sessions: dict[str, _Session] = {}
        self.events = 0

    def add(self, events: Iterable[Event]) -> None:
        """Count a batch of events."""
        for event in events:
            self.events += 1
            account_id = event.person.account_id
            day_key = datetime.fromtimestamp(event.time_ns / 1e9, tz=UTC).date().isoformat()
            day = self._days[account_id, day_key]
            day.sessions.add(event.session_id)
            session = self._sessions.get(event.session_id)
            if session is None:
                session = self._sessions[event.session_id] = _Session(
                    account_id, first_ns=event.time_ns
                )
            session.first_ns = min(session.first_ns, event.time_ns)
            session.last_ns = max(session.last_ns, event.time_ns)
            if event.name == "user_prompt":
                day.prompts += 1
                session.prompts += 1
            elif event.name == "api_request":
                day.api_requests += 1
                session.api_requests += 1
                day.cost_nano += event.cost_nano
                session.cost_nano += event.cost_nano
                for kind in TOKEN_KINDS:
                    day.tokens[kind] += int(event.attributes[kind])
            elif event.name == "api_error":
                day.api_errors += 1
            elif event.name == "tool_result":
                day.tool_results += 1

    def write(self, directory: Path) -> None:
        """Write `user_daily.csv` and `sessions.csv` (costs in exact decimal dollars)."""
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "user_daily.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "usage_date",
                    "user_account_id",
                    "prompts",
                    "sessions",
                    "api_requests",
                    "api_errors",
                    "tool_results",
                    *TOKEN_KINDS,
                    "cost_usd",
                ]
            )
            for (account_id, day_key), day in sorted(
                self._days.items(), key=lambda i: (i[0][1], i[0][0])
            ):
                writer.writerow(
                    [
                        day_key,
                        account_id,
                        day.prompts,
                        len(day.sessions),
                        day.api_requests,
                        day.api_errors,
                        day.tool_results,
                        *(day.tokens[k] for k in TOKEN_KINDS),
                        Decimal(day.cost_nano) * NANO,
                    ]
                )
        with (directory / "sessions.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(SESSION_COLUMNS)
            for session_id, session in sorted(self._sessions.items()):
                writer.writerow(
                    [
                        session_id,
                        session.account_id,
                        session.prompts,
                        session.api_requests,
                        Decimal(session.cost_nano) * NANO,
                        _iso(session.first_ns),
                        _iso(session.last_ns),
                    ]
                )

    @property
    def total_cost_nano(self) -> int:
        """Total cost of every API request, in nano-dollars."""
        return sum(day.cost_nano for day in self._days.values())


def _iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")
