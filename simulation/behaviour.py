"""How people use Cowork and Claude Code: sessions, prompts, API requests and tool calls.

Each person-day is simulated from its own seeded random stream, so the same seed always
gives the same events, whatever order the days are drawn in.
"""

from __future__ import annotations

import json
import math
import random
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from simulation.organisation import COST_SPIKE_MODEL, MODEL_MIXES, Person
from simulation.pricing import request_cost_parts_nano

AttributeValue = str | int | float | bool | list[str]

# Earliest local start of a working session; used to know when a day's events are complete.
WORKDAY_START_HOUR = 7
NS_PER_DAY = 86_400_000_000_000
EPOCH = date(1970, 1, 1)

PROMPTS = (
    "Summarise the attached contracts and list renewal dates",
    "Draft a reply to the customer escalation in the support folder",
    "Reconcile the Q3 invoices against the ledger export",
    "Refactor the ingestion module and add tests",
    "Build a slide outline from the planning notes",
    "Find every mention of the Atlas project in my documents",
    "Clean up the CSV exports and chart monthly revenue",
    "Review this pull request for security issues",
)
WEB_URLS = (
    "https://docs.python.org/3/library/zoneinfo.html",
    "https://en.wikipedia.org/wiki/Double-entry_bookkeeping",
    "https://www.sec.gov/cgi-bin/browse-edgar",
    "https://status.example-vendor.com/api/v2/summary.json",
)
BASH_COMMANDS = ("ls -la", "python3 report.py", "git status", "grep -rn TODO .", "pytest -q")
SENSITIVE_PATHS = ("~/.ssh/id_rsa", ".env", "~/.aws/credentials")
MCP_TOOLS = (
    ("google_drive", "search_files", "user"),
    ("slack", "post_message", "project"),
    ("jira", "create_issue", "user"),
)
SKILLS = ("xlsx", "pptx", "pdf")
# Prompts of the planted cost-spike session, ten model calls each (about $10 on its model).
COST_SPIKE_PROMPTS = 6


@dataclass
class Event:
    """One log record as a client emits it, before the collector encodes it."""

    time_ns: int
    name: str
    person: Person
    session_id: str
    process_key: str  # one client process; `event.sequence` counts within it
    prompt_id: str | None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    sequence: int = -1
    cost_nano: int = 0  # exact cost of an api_request, for the ground truth


def utc_date(time_ns: int) -> date:
    """The UTC calendar day of a time in ns since the epoch (integer arithmetic, exact)."""
    return EPOCH + timedelta(days=time_ns // NS_PER_DAY)


def sends_email(person: Person, session_id: str) -> bool:
    """Whether the client sends `user.email` on a session.

    Third-party deployments never do; the planted `omits_email` client leaves it out on
    about half of its sessions, chosen from the session id so it is stable.
    """
    if person.third_party:
        return False
    return not person.omits_email or zlib.crc32(session_id.encode()) % 2 == 1


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and fast for the small means we draw.
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _lognormal_ms(rng: random.Random, median_ms: float, sigma: float) -> int:
    return max(1, int(rng.lognormvariate(math.log(median_ms), sigma)))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso_millis(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns // 1_000_000 / 1000, tz=ZoneInfo("UTC"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _SessionWriter:
    """Emits the events of one client process, keeping its clock and sequence."""

    def __init__(self, person: Person, session_id: str, process_key: str, start_ns: int):
        self.person = person
        self.session_id = session_id
        self.process_key = process_key
        self.now_ns = start_ns
        self.sequence = 0
        self.events: list[Event] = []

    def advance_ms(self, milliseconds: int) -> None:
        self.now_ns += milliseconds * 1_000_000

    def emit(self, name: str, prompt_id: str | None, **attributes: AttributeValue) -> Event:
        event = Event(
            time_ns=self.now_ns,
            name=name,
            person=self.person,
            session_id=self.session_id,
            process_key=self.process_key,
            prompt_id=prompt_id,
            attributes=attributes,
            sequence=self.sequence,
        )
        self.sequence += 1
        self.events.append(event)
        return event


def _tool_call(rng: random.Random, person: Person, workspace: str) -> tuple[str, dict[str, str]]:
    """Pick a tool and its JSON-string arguments (`tool_input`) and parameters."""
    roll = rng.random()
    if roll < 0.3:
        name = rng.choice(("Read", "Read", "Edit", "Write"))
        if rng.random() < 0.01:
            path = rng.choice(SENSITIVE_PATHS)
        else:
            path = (
                f"{workspace}/{rng.choice(('notes', 'src', 'reports'))}/file_{rng.randint(1, 80)}"
            )
            path += rng.choice((".md", ".py", ".csv", ".xlsx"))
        return name, {"tool_input": json.dumps({"file_path": path})}
    if roll < 0.5:
        command = rng.choice(BASH_COMMANDS)
        return "Bash", {
            "tool_input": json.dumps({"command": command}),
            "tool_parameters": json.dumps(
                {"bash_command": command.split()[0], "full_command": command}
            ),
        }
    if roll < 0.62:
        return "WebFetch", {"tool_input": json.dumps({"url": rng.choice(WEB_URLS)})}
    if roll < 0.72:
        return "Grep", {"tool_input": json.dumps({"pattern": "invoice", "path": workspace})}
    if roll < 0.9:
        server, tool, scope = rng.choice(MCP_TOOLS)
        return f"mcp__{server}__{tool}", {
            "tool_input": json.dumps({"query": "quarterly plan"}),
            "tool_parameters": json.dumps({"mcp_server_name": server, "mcp_tool_name": tool}),
            "mcp_server_scope": scope,
        }
    skill = rng.choice(SKILLS)
    return "Skill", {
        "tool_input": json.dumps({"skill": skill}),
        "tool_parameters": json.dumps({"skill_name": skill}),
    }


def _tokens(rng: random.Random, step: int) -> dict[str, int]:
    """Token counts of one API request; the cached context grows along a prompt's chain."""
    return {
        "input_tokens": _lognormal_ms(rng, 900, 0.9),
        "output_tokens": _lognormal_ms(rng, 450, 0.8),
        "cache_read_tokens": 0
        if step == 0 and rng.random() < 0.3
        else _lognormal_ms(rng, 18_000 + 9_000 * step, 0.5),
        "cache_creation_tokens": _lognormal_ms(rng, 1_500, 1.0) if rng.random() < 0.6 else 0,
    }


def _api_request(
    rng: random.Random, writer: _SessionWriter, prompt_id: str, model: str, step: int
) -> None:
    person = writer.person
    tokens = _tokens(rng, step)
    duration = _lognormal_ms(rng, 3_500, 0.7)
    if rng.random() < 0.03:  # a transient retry that succeeded: slower, and no api_error
        duration += _lognormal_ms(rng, 4_000, 0.5)
    writer.advance_ms(duration)
    is_claude_code = person.service_name == "claude-code"
    # Newer Claude Code clients split cache writes by TTL; Cowork does not, and is billed at
    # the 5-minute write price.
    write_1h = tokens["cache_creation_tokens"] // 4 if is_claude_code else 0
    write_5m = tokens["cache_creation_tokens"] - write_1h
    cost_parts = request_cost_parts_nano(
        model,
        on=utc_date(writer.now_ns),
        input_tokens=tokens["input_tokens"],
        output_tokens=tokens["output_tokens"],
        cache_read_tokens=tokens["cache_read_tokens"],
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
    )
    # The client sums per-category double products, so the reported cost carries float noise.
    cost_usd = sum(part / 1e9 for part in cost_parts)
    attributes: dict[str, AttributeValue] = {
        "model": model,
        "cost_usd": cost_usd,
        "duration_ms": duration,
        "ttft_ms": max(1, int(duration * rng.uniform(0.08, 0.3))),
        **tokens,
        "speed": "normal",
    }
    if is_claude_code:
        attributes |= {
            "cost_usd_micros": round(cost_usd * 1e6),
            "cache_creation_5m_tokens": write_5m,
            "cache_creation_1h_tokens": write_1h,
            "request_id": "req_" + f"{rng.getrandbits(96):024x}",
            "query_source": "repl_main_thread"
            if step == 0
            else rng.choice(("repl_main_thread", "agent:explore")),
        }
    event = writer.emit("api_request", prompt_id, **attributes)
    event.cost_nano = sum(cost_parts)


def _api_failure(rng: random.Random, writer: _SessionWriter, prompt_id: str, model: str) -> None:
    attempts = rng.choice((4, 11))
    writer.advance_ms(_lognormal_ms(rng, 20_000, 0.6))
    http = rng.random() < 0.8
    status: AttributeValue
    if writer.person.service_name == "cowork":
        status = rng.choice(("529", "500", "429")) if http else "undefined"
    else:
        status = rng.choice((529, 500, 429)) if http else ""
    error_attributes: dict[str, AttributeValue] = {
        "model": model,
        "error": "Overloaded" if status in ("529", 529) else "Request failed",
        "duration_ms": _lognormal_ms(rng, 2_000, 0.5),
        "attempt": attempts,
        "speed": "normal",
    }
    if status != "":
        error_attributes["status_code"] = status
    writer.emit("api_error", prompt_id, **error_attributes)
    writer.advance_ms(5)
    writer.emit(
        "api_retries_exhausted",
        prompt_id,
        model=model,
        error=str(error_attributes["error"]),
        total_attempts=attempts,
        total_retry_duration_ms=_lognormal_ms(rng, 25_000, 0.4),
        speed="normal",
    )


def _prompt(
    rng: random.Random,
    writer: _SessionWriter,
    workspace: str,
    model_mix: str,
    *,
    model: str | None = None,
    steps: int | None = None,
) -> None:
    """One prompt: its model from the person's mix (or `model`), then a chain of requests."""
    person = writer.person
    prompt_id = _uuid(rng)
    text = rng.choice(PROMPTS)
    content_captured = person.service_name == "cowork"
    writer.emit(
        "user_prompt",
        prompt_id,
        prompt_length=str(len(text)),  # real clients send this number as a string
        prompt=text if content_captured else "<REDACTED>",
    )
    if model is None:
        models, weights = zip(*MODEL_MIXES[model_mix], strict=True)
        model = rng.choices(models, weights=weights)[0]
    if rng.random() < 0.025:
        _api_failure(rng, writer, prompt_id, model)
        return
    if steps is None:
        steps = 1 + min(_poisson(rng, 1.8), 9)
    for step in range(steps):
        _api_request(rng, writer, prompt_id, model, step)
        if step == steps - 1:
            break
        tool_name, tool_details = _tool_call(rng, person, workspace)
        writer.advance_ms(_lognormal_ms(rng, 40, 0.5))
        accepted = rng.random() < 0.93
        decision_source = (
            rng.choice(("config", "user_temporary", "user_permanent"))
            if accepted
            else "user_reject"
        )
        writer.emit(
            "tool_decision",
            prompt_id,
            tool_name=tool_name,
            decision="accept" if accepted else "reject",
            source=decision_source,
        )
        if not accepted:
            continue
        duration = _lognormal_ms(rng, 300 if tool_name in ("Read", "Grep") else 1_800, 1.0)
        writer.advance_ms(duration)
        succeeded = rng.random() < 0.95
        result: dict[str, AttributeValue] = {
            "tool_name": tool_name,
            "success": "true" if succeeded else "false",
            "duration_ms": str(duration),  # a string on the wire, unlike api_request's
            "decision_type": "accept",
            "decision_source": decision_source,
            "tool_result_size_bytes": str(_lognormal_ms(rng, 3_000, 1.2)),
            **tool_details,
        }
        if not succeeded:
            result |= {"error": "Command failed with exit code 1", "error_type": "tool_error"}
        if person.service_name == "claude-code":
            result["tool_use_id"] = "toolu_" + f"{rng.getrandbits(96):024x}"
        writer.emit("tool_result", prompt_id, **result)
    response_length = _lognormal_ms(rng, 1_200, 0.8)
    writer.advance_ms(_lognormal_ms(rng, 30, 0.5))
    writer.emit(
        "assistant_response",
        prompt_id,
        model=model,
        response_length=response_length,
        response=("Here is what I found. " * 40)[:response_length]
        if content_captured
        else "<REDACTED>",
    )


def simulate_person_day(
    seed: int, organization_uuid: str, person: Person, local_day: date
) -> list[Event]:
    """All events one person produces on one local calendar day.

    Args:
        seed: the generator seed.
        organization_uuid: the organisation's UUID (OTel `organization.id`).
        person: who works.
        local_day: the day in the person's own time zone.

    Returns:
        Events in emission order (possibly spanning midnight UTC).
    """
    rng = random.Random(f"{seed}:{person.account_id}:{local_day.isoformat()}")
    is_weekend = local_day.weekday() >= 5
    day_off = rng.random() > (0.1 if is_weekend else 0.85)
    # People with something planted work every day, so that every generated period shows it.
    if day_off and not person.works_every_day:
        return []
    sessions = _poisson(rng, person.activity * (0.4 if is_weekend else 1.0))
    if person.works_every_day:
        sessions = max(1, sessions)
    zone = ZoneInfo(person.time_zone)
    first_name = person.email.split(".")[0]
    workspace = (
        f"/Users/{first_name}/Documents/{rng.choice(('Q3 planning', 'clients', 'finance', 'code'))}"
    )
    events: list[Event] = []
    for _ in range(sessions):
        start_local = datetime.combine(local_day, datetime.min.time(), tzinfo=zone) + timedelta(
            hours=WORKDAY_START_HOUR + 1 + rng.uniform(0, 10)
        )
        session_id = _uuid(rng)
        process_key = f"{session_id}:0"
        start_ns = int(start_local.timestamp()) * 1_000_000_000 + rng.randint(0, 999) * 1_000_000
        writer = _SessionWriter(person, session_id, process_key, start_ns)
        prompts = 1 + min(_poisson(rng, 2.5), 12)
        for index in range(prompts):
            if index and rng.random() < 0.05:
                # The user comes back later and resumes the session in a new client process,
                # whose event.sequence restarts at 0.
                writer.advance_ms(rng.randint(40, 120) * 60_000)
                resumed = _SessionWriter(person, session_id, f"{session_id}:{index}", writer.now_ns)
                events.extend(writer.events)
                writer = resumed
            _prompt(rng, writer, workspace, person.model_mix)
            writer.advance_ms(_lognormal_ms(rng, 90_000, 1.0))
        events.extend(writer.events)
    if local_day == person.cost_spike_on:
        events.extend(_cost_spike_session(rng, person, local_day, workspace))
    for event in events:
        event.attributes = _with_standard_attributes(event, organization_uuid, workspace)
    return events


def _cost_spike_session(
    rng: random.Random, person: Person, local_day: date, workspace: str
) -> list[Event]:
    """The planted cost spike: one long agentic session on an expensive model.

    It starts at 12:00 UTC of the local day's date, which lies inside that local day in
    every simulated zone, and ends well before midnight UTC: the whole spike falls on one
    UTC day, the day the ground truth records.
    """
    session_id = _uuid(rng)
    start = datetime.combine(local_day, datetime.min.time(), tzinfo=ZoneInfo("UTC"))
    start_ns = int(start.timestamp() + 12 * 3600) * 1_000_000_000
    writer = _SessionWriter(person, session_id, f"{session_id}:0", start_ns)
    for _ in range(COST_SPIKE_PROMPTS):
        _prompt(rng, writer, workspace, person.model_mix, model=COST_SPIKE_MODEL, steps=10)
        writer.advance_ms(_lognormal_ms(rng, 60_000, 0.5))
    return writer.events


def _with_standard_attributes(
    event: Event, organization_uuid: str, workspace: str
) -> dict[str, AttributeValue]:
    """Put the attributes every event carries in front, in the order the client sends them."""
    person = event.person
    attributes: dict[str, AttributeValue] = {
        "user.id": person.device_id,
        "session.id": event.session_id,
    }
    # Third-party deployments carry none of the four account attributes (spec §1.4).
    if not person.third_party:
        attributes["organization.id"] = organization_uuid
        if sends_email(person, event.session_id):
            attributes["user.email"] = person.email
        attributes["user.account_uuid"] = person.account_uuid
        attributes["user.account_id"] = person.account_id
    attributes["terminal.type"] = "non-interactive" if person.service_name == "cowork" else "vscode"
    # OTEL_RESOURCE_ATTRIBUTES is copied onto every record as well as the resource.
    attributes |= resource_tags(person, utc_date(event.time_ns))
    attributes |= {
        "event.name": event.name,
        "event.timestamp": _iso_millis(event.time_ns),
        "event.sequence": event.sequence,
    }
    if event.prompt_id is not None:
        attributes["prompt.id"] = event.prompt_id
    attributes["workspace.host_paths"] = [workspace]
    return attributes | event.attributes


def resource_tags(person: Person, on: date) -> dict[str, AttributeValue]:
    """The OTEL_RESOURCE_ATTRIBUTES-style team tags some people's clients carry on a UTC day.

    A reorganised person's tags change at midnight UTC of the move day: the admin pushes the
    new tags in managed settings, and the simulated clients pick them up at once.
    """
    if not person.tags_resource:
        return {}
    team = person.team_on(on)
    return {
        "department": team.department,
        "team.id": team.team_id,
        "cost_center": team.cost_center,
    }
