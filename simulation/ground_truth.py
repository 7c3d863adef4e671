"""Ground truth: what the generated events add up to, so the marts can be checked exactly.

One CSV per mart checked, keyed by the person's Compliance `account_id` (whatever identity
the events themselves carry), dates in UTC. Money is exact decimal dollars computed from
integer nano-dollars (`Decimal`), so it is the cost the price seed gives, not the client's
float estimate; only the even split of a request's cost over its tool calls can leave
fractions of a nano-dollar, written to 18 decimals.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from simulation.behaviour import Event, utc_date
from simulation.organisation import COST_SPIKE_MODEL, Organisation, Person
from simulation.pricing import normalise_model_id, price_on

TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
CACHE_WRITE_SPLIT = ("cache_creation_5m_tokens", "cache_creation_1h_tokens")
NANO = Decimal("0.000000001")
# Gaps between consecutive events of a session up to this long count as active time.
ACTIVE_GAP_NS = 300 * 1_000_000_000
MODEL_TOOL = "(model)"  # the tool name of a request that consumed no tool result
COMPLIANCE_COUNTS = (
    "compliance_activities",
    "logins",
    "chats_created",
    "projects_created",
    "files_uploaded",
)
USER_DAILY_COLUMNS = (
    "usage_date",
    "user_account_id",
    "team_name",
    "prompts",
    "sessions",
    "api_requests",
    "api_errors",
    "tool_results",
    "tool_rejections",
    "active_seconds",
    *TOKEN_KINDS,
    "cost_usd",
    "cowork_cost_usd",
    "claude_code_cost_usd",
    *COMPLIANCE_COUNTS,
)
USER_MODEL_DAILY_COLUMNS = (
    "usage_date",
    "user_account_id",
    "model",
    "api_requests",
    *TOKEN_KINDS,
    *CACHE_WRITE_SPLIT,
    "cost_usd",
    "cost_usd_micros",
    "cache_savings_usd",
)
SESSION_COLUMNS = (
    "session_id",
    "user_account_id",
    "prompts",
    "api_requests",
    "cost_usd",
    "first_event_at",
    "last_event_at",
    "product",
    "processes",
    "api_errors",
    "tool_calls",
    "tool_rejections",
    "active_seconds",
    *TOKEN_KINDS,
)
PROMPT_COLUMNS = (
    "prompt_id",
    "session_id",
    "user_account_id",
    "model",
    "prompt_length",
    "api_requests",
    "api_errors",
    "retry_attempts",
    "tool_calls",
    "tool_rejections",
    "tool_failures",
    *TOKEN_KINDS,
    "cost_usd",
    "prompted_at",
    "wall_clock_ms",
    "is_failed",
)
COST_BY_TOOL_COLUMNS = (
    "usage_date",
    "user_account_id",
    "tool_name",
    "mcp_server_name",
    "tool_calls",
    "attributed_requests",
    "cost_usd",
)
TEAM_DAILY_COLUMNS = ("usage_date", "team_name", "cost_usd")
# The planted cost spikes: the person-days `marts.fct_cost_anomalies` must flag.
PLANTED_ANOMALY_COLUMNS = ("usage_date", "user_account_id", "team_name", "model", "cost_usd")
USER_COLUMNS = (
    "user_account_id",
    "user_email",
    "full_name",
    "organization_role",
    "current_team_name",
    "quirks",
)


def product_of(person: Person) -> str:
    """The mart's product name for a person's client (`cowork` or `claude_code`)."""
    return "cowork" if person.service_name == "cowork" else "claude_code"


def mcp_server_of(tool_name: str) -> str:
    """The MCP server of an `mcp__<server>__<tool>` tool name; '' for other tools."""
    if tool_name.startswith("mcp__") and "__" in tool_name[5:]:
        return tool_name[5:].split("__", 1)[0]
    return ""


def usd(nano: int | Fraction) -> str:
    """Nano-dollars as decimal dollars: exact, or to 18 decimals for fractions."""
    if isinstance(nano, Fraction) and nano.denominator != 1:
        value = Decimal(nano.numerator) / Decimal(nano.denominator)
        return f"{value.scaleb(-9).quantize(Decimal('1e-18')):f}"
    return f"{Decimal(int(nano)).scaleb(-9):f}"


def seconds(nanoseconds: int) -> str:
    """Nanoseconds as decimal seconds with millisecond precision (events are in ms)."""
    return f"{Decimal(nanoseconds // 1_000_000).scaleb(-3):f}"


def iso_millis(time_ns: int) -> str:
    """A UTC time as ISO 8601 with milliseconds, e.g. `2026-03-07T10:00:00.123+00:00`."""
    day = utc_date(time_ns)
    millis = time_ns // 1_000_000 % 86_400_000
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}+00:00"


@dataclass
class _Usage:
    """Counters shared by a user-day, a session and a prompt."""

    api_requests: int = 0
    api_errors: int = 0
    tool_calls: int = 0  # tool_result events
    tool_rejections: int = 0  # tool_decision events with decision = reject
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    cost_nano: int = 0

    def count(self, event: Event) -> None:
        if event.name == "api_request":
            self.api_requests += 1
            self.cost_nano += event.cost_nano
            for kind in TOKEN_KINDS:
                self.tokens[kind] += int(event.attributes[kind])
        elif event.name == "api_error":
            self.api_errors += 1
        elif event.name == "tool_result":
            self.tool_calls += 1
        elif event.name == "tool_decision" and event.attributes["decision"] == "reject":
            self.tool_rejections += 1


@dataclass
class _UserDay(_Usage):
    prompts: int = 0
    sessions: set[str] = field(default_factory=set)
    active_ns: int = 0
    compliance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPLIANCE_COUNTS, 0))


@dataclass
class _ModelDay:
    api_requests: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    # Attributes only some clients send (Claude Code, not Cowork): None when none did.
    optional: dict[str, int | None] = field(
        default_factory=lambda: dict.fromkeys((*CACHE_WRITE_SPLIT, "cost_usd_micros"))
    )
    cost_nano: int = 0
    cache_savings_nano: int = 0


@dataclass
class _Session(_Usage):
    account_id: str = ""
    product: str = ""
    prompts: int = 0
    first_ns: int = 0
    last: tuple[int, int] = (0, -1)  # (time, sequence) of the latest event
    processes: set[str] = field(default_factory=set)
    active_ns: int = 0


@dataclass
class _Prompt(_Usage):
    session_id: str = ""
    account_id: str = ""
    model: str = ""
    prompt_length: str = ""
    first_ns: int = 0
    last_ns: int = 0
    retry_attempts: int = 0
    tool_failures: int = 0
    # Tool results since the prompt's last api_request: the next request consumed them.
    pending_tools: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _ToolCost:
    tool_calls: int = 0
    attributed_requests: Fraction = Fraction(0)
    cost_nano: Fraction = Fraction(0)


class GroundTruth:
    """Accumulates what the marts must show while events are generated.

    `add` expects each session's events in time order (then `event.sequence`), which is how
    `generate` delivers them; gaps and tool-cost allocation are computed on the fly.
    """

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self._people = {person.account_id: person for person in organisation.people}
        self._days: dict[tuple[str, date], _UserDay] = defaultdict(_UserDay)
        self._models: dict[tuple[str, date, str], _ModelDay] = defaultdict(_ModelDay)
        self._sessions: dict[str, _Session] = {}
        self._prompts: dict[str, _Prompt] = {}
        self._tools: dict[tuple[date, str, str, str], _ToolCost] = defaultdict(_ToolCost)
        self._teams: dict[tuple[date, str], int] = defaultdict(int)
        self.events = 0

    def add(self, events: Iterable[Event]) -> None:
        """Count a batch of events.

        Raises:
            ValueError: an event is earlier than one already counted in its session.
        """
        for event in events:
            self.events += 1
            self._add(event)

    def _add(self, event: Event) -> None:
        person = event.person
        account_id = person.account_id
        day_key = utc_date(event.time_ns)
        day = self._days[account_id, day_key]
        day.sessions.add(event.session_id)
        day.count(event)
        session = self._sessions.get(event.session_id)
        if session is None:
            session = self._sessions[event.session_id] = _Session(
                account_id=account_id, product=product_of(person), first_ns=event.time_ns
            )
        else:
            if (event.time_ns, event.sequence) < session.last:
                raise ValueError(f"event out of order in session {event.session_id}")
            gap = event.time_ns - session.last[0]
            if gap <= ACTIVE_GAP_NS:
                # Active time belongs to the day of the later event of the pair.
                session.active_ns += gap
                day.active_ns += gap
        session.last = (event.time_ns, event.sequence)
        session.processes.add(event.process_key)
        session.count(event)
        if event.name == "user_prompt":
            day.prompts += 1
            session.prompts += 1
        if event.prompt_id is not None:
            self._add_to_prompt(event, day_key)
        if event.name == "api_request":
            self._add_request(event, day_key)

    def _add_to_prompt(self, event: Event, day_key: date) -> None:
        prompt = self._prompts.get(str(event.prompt_id))
        if prompt is None:
            prompt = self._prompts[str(event.prompt_id)] = _Prompt(
                session_id=event.session_id,
                account_id=event.person.account_id,
                first_ns=event.time_ns,
            )
        prompt.last_ns = event.time_ns
        prompt.count(event)
        attributes = event.attributes
        if event.name == "user_prompt":
            prompt.prompt_length = str(attributes["prompt_length"])
        elif event.name in ("api_request", "api_error") and not prompt.model:
            prompt.model = normalise_model_id(str(attributes["model"]))
        if event.name == "api_error":
            prompt.retry_attempts += int(attributes["attempt"])
        elif event.name == "tool_result":
            tool = (str(attributes["tool_name"]), mcp_server_of(str(attributes["tool_name"])))
            prompt.pending_tools.append(tool)
            self._tools[day_key, event.person.account_id, *tool].tool_calls += 1
            if attributes["success"] == "false":
                prompt.tool_failures += 1
        elif event.name == "api_request":
            # The request's cost goes to the tool results it consumed, evenly, or to the
            # model itself when it consumed none.
            consumed = prompt.pending_tools or [(MODEL_TOOL, "")]
            share = Fraction(1, len(consumed))
            for tool in consumed:
                allocation = self._tools[day_key, event.person.account_id, *tool]
                allocation.attributed_requests += share
                allocation.cost_nano += share * event.cost_nano
            prompt.pending_tools = []

    def _add_request(self, event: Event, day_key: date) -> None:
        person, attributes = event.person, event.attributes
        model = normalise_model_id(str(attributes["model"]))
        model_day = self._models[person.account_id, day_key, model]
        model_day.api_requests += 1
        for kind in TOKEN_KINDS:
            model_day.tokens[kind] += int(attributes[kind])
        for name, total in model_day.optional.items():
            if name in attributes:
                model_day.optional[name] = (total or 0) + int(attributes[name])
        model_day.cost_nano += event.cost_nano
        price = price_on(model, day_key)
        model_day.cache_savings_nano += int(attributes["cache_read_tokens"]) * (
            price.input - price.cache_read
        )
        self._teams[day_key, person.team_on(day_key).name] += event.cost_nano

    def add_activities(self, activities: Iterable[dict]) -> None:
        """Count Compliance activity-feed records by actor and UTC day of `created_at`."""
        for activity in activities:
            account_id = (activity.get("actor") or {}).get("user_id")
            if account_id not in self._people:
                continue
            day = self._days[account_id, date.fromisoformat(activity["created_at"][:10])]
            kind = activity["type"]
            counts = day.compliance
            counts["compliance_activities"] += 1
            counts["logins"] += kind.endswith("_login_succeeded")
            counts["chats_created"] += kind == "claude_chat_created"
            counts["projects_created"] += kind == "claude_project_created"
            counts["files_uploaded"] += kind == "claude_file_uploaded"

    @property
    def total_cost_nano(self) -> int:
        """Total cost of every API request, in nano-dollars."""
        return sum(day.cost_nano for day in self._days.values())

    def write(self, directory: Path) -> None:
        """Write every ground-truth CSV into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        _write(directory / "user_daily.csv", USER_DAILY_COLUMNS, self._user_daily_rows())
        _write(
            directory / "user_model_daily.csv",
            USER_MODEL_DAILY_COLUMNS,
            self._user_model_daily_rows(),
        )
        _write(directory / "sessions.csv", SESSION_COLUMNS, self._session_rows())
        _write(directory / "prompts.csv", PROMPT_COLUMNS, self._prompt_rows())
        _write(directory / "cost_by_tool.csv", COST_BY_TOOL_COLUMNS, self._cost_by_tool_rows())
        _write(
            directory / "team_daily.csv",
            TEAM_DAILY_COLUMNS,
            (
                (day.isoformat(), team, usd(cost))
                for (day, team), cost in sorted(self._teams.items())
            ),
        )
        _write(directory / "users.csv", USER_COLUMNS, self._user_rows())
        _write(
            directory / "planted_anomalies.csv",
            PLANTED_ANOMALY_COLUMNS,
            self._planted_anomaly_rows(),
        )

    def _user_daily_rows(self) -> Iterable[Sequence[object]]:
        for (account_id, day_key), day in sorted(self._days.items(), key=lambda i: i[0][::-1]):
            person = self._people[account_id]
            is_cowork = person.service_name == "cowork"
            yield (
                day_key.isoformat(),
                account_id,
                person.team_on(day_key).name,
                day.prompts,
                len(day.sessions),
                day.api_requests,
                day.api_errors,
                day.tool_calls,
                day.tool_rejections,
                seconds(day.active_ns),
                *(day.tokens[kind] for kind in TOKEN_KINDS),
                usd(day.cost_nano),
                usd(day.cost_nano if is_cowork else 0),
                usd(0 if is_cowork else day.cost_nano),
                *(day.compliance[name] for name in COMPLIANCE_COUNTS),
            )

    def _user_model_daily_rows(self) -> Iterable[Sequence[object]]:
        for (account_id, day_key, model), row in sorted(
            self._models.items(), key=lambda i: (i[0][1], i[0][0], i[0][2])
        ):
            yield (
                day_key.isoformat(),
                account_id,
                model,
                row.api_requests,
                *(row.tokens[kind] for kind in TOKEN_KINDS),
                *(
                    "" if row.optional[kind] is None else row.optional[kind]
                    for kind in CACHE_WRITE_SPLIT
                ),
                usd(row.cost_nano),
                "" if row.optional["cost_usd_micros"] is None else row.optional["cost_usd_micros"],
                usd(row.cache_savings_nano),
            )

    def _session_rows(self) -> Iterable[Sequence[object]]:
        for session_id, session in sorted(self._sessions.items()):
            yield (
                session_id,
                session.account_id,
                session.prompts,
                session.api_requests,
                usd(session.cost_nano),
                iso_millis(session.first_ns),
                iso_millis(session.last[0]),
                session.product,
                len(session.processes),
                session.api_errors,
                session.tool_calls,
                session.tool_rejections,
                seconds(session.active_ns),
                *(session.tokens[kind] for kind in TOKEN_KINDS),
            )

    def _prompt_rows(self) -> Iterable[Sequence[object]]:
        for prompt_id, prompt in sorted(self._prompts.items()):
            yield (
                prompt_id,
                prompt.session_id,
                prompt.account_id,
                prompt.model,
                prompt.prompt_length,
                prompt.api_requests,
                prompt.api_errors,
                prompt.retry_attempts,
                prompt.tool_calls,
                prompt.tool_rejections,
                prompt.tool_failures,
                *(prompt.tokens[kind] for kind in TOKEN_KINDS),
                usd(prompt.cost_nano),
                iso_millis(prompt.first_ns),
                (prompt.last_ns - prompt.first_ns) // 1_000_000,
                str(prompt.api_errors > 0 and prompt.api_requests == 0).lower(),
            )

    def _cost_by_tool_rows(self) -> Iterable[Sequence[object]]:
        for (day_key, account_id, tool_name, server), row in sorted(self._tools.items()):
            attributed = row.attributed_requests
            yield (
                day_key.isoformat(),
                account_id,
                tool_name,
                server,
                row.tool_calls,
                attributed.numerator
                if attributed.denominator == 1
                else f"{Decimal(attributed.numerator) / Decimal(attributed.denominator):f}",
                usd(row.cost_nano),
            )

    def _user_rows(self) -> Iterable[Sequence[object]]:
        for person in sorted(self.organisation.people, key=lambda p: p.account_id):
            quirks = [
                name
                for name, present in (
                    ("omits_email", person.omits_email),
                    ("third_party", person.third_party),
                    (f"moved_on_{person.moves_on}", person.moves_to is not None),
                    (f"cost_spike_on_{person.cost_spike_on}", person.cost_spike_on is not None),
                )
                if present
            ]
            yield (
                person.account_id,
                person.email,
                person.full_name,
                person.role,
                person.current_team.name,
                ";".join(quirks),
            )

    def _planted_anomaly_rows(self) -> Iterable[Sequence[object]]:
        # The spike's session lies within one UTC day (see behaviour._cost_spike_session);
        # the day's cost is everything the person spent that day, spike included.
        for person in sorted(self.organisation.people, key=lambda p: p.account_id):
            day_key = person.cost_spike_on
            if day_key is None or (person.account_id, day_key) not in self._days:
                continue
            yield (
                day_key.isoformat(),
                person.account_id,
                person.team_on(day_key).name,
                COST_SPIKE_MODEL,
                usd(self._days[person.account_id, day_key].cost_nano),
            )


def _write(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
