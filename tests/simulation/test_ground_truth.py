"""The ground truth equals a naive re-aggregation of the files the generator wrote."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from simulation.behaviour import Event
from simulation.generate import GenerationResult
from simulation.ground_truth import GroundTruth, mcp_server_of, seconds, usd
from simulation.organisation import Organisation, build_organisation
from simulation.pricing import normalise_model_id, price_on
from tests.support.collector_files import Record, log_records

TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
SPLIT = ("cache_creation_5m_tokens", "cache_creation_1h_tokens")
MIDNIGHT_NS = int(datetime(2026, 3, 8, tzinfo=UTC).timestamp()) * 1_000_000_000
SECOND_NS = 1_000_000_000


def _day(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC).date().isoformat()


def _iso(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns // 1_000_000 / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds")


def _reported_nano(record: Record) -> int:
    # The client's double is within float noise of a whole number of nano-dollars.
    return int(Decimal(repr(record.attributes["cost_usd"])).scaleb(9).to_integral_value())


def _naive_truth(output_dir: Path) -> dict[str, dict[tuple, dict[str, object]]]:
    """Every ground-truth table, recomputed from the collector and Compliance files."""
    compliance = output_dir / "compliance"
    users = json.loads((compliance / "users.json").read_text())
    groups = {g["id"]: g["name"] for g in json.loads((compliance / "groups.json").read_text())}
    members = json.loads((compliance / "group_members.json").read_text())
    directory_team = {m["user_id"]: groups[m["group_id"]] for m in members}
    team_of_tag = {name.lower().replace(" ", "-"): name for name in groups.values()}
    account_of_email = {u["email"]: u["id"] for u in users}

    by_session: dict[str, list[tuple[int, int, str, Record]]] = defaultdict(list)
    for record in log_records(output_dir / "otel"):
        account = (
            record.attributes.get("user.account_id")
            or account_of_email[str(record.resource["enduser.id"])]
        )
        session = by_session[str(record.attributes["session.id"])]
        session.append((record.time_ns, int(record.attributes["event.sequence"]), account, record))

    tables: dict[str, dict[tuple, dict[str, object]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    days, models, prompts = tables["user_daily"], tables["user_model_daily"], tables["prompts"]
    session_sets: dict[tuple, set[str]] = defaultdict(set)
    prompt_events: dict[str, list[tuple[int, int, str, Record]]] = defaultdict(list)
    for session_id, events in by_session.items():
        events.sort(key=lambda item: item[:2])
        row = tables["sessions"][(session_id,)]
        previous = None
        for time_ns, sequence, account, record in events:
            attributes, name, day = record.attributes, record.name, _day(time_ns)
            product = "cowork" if record.resource["service.name"] == "cowork" else "claude_code"
            team = (
                team_of_tag[str(attributes["team.id"])]
                if "team.id" in attributes
                else directory_team[account]
            )
            user_day = days[day, account]
            user_day["team_name"] = team
            session_sets[day, account].add(session_id)
            row |= {"user_account_id": account, "product": product}
            row.setdefault("first_event_at", _iso(time_ns))
            row["last_event_at"] = _iso(time_ns)
            row["processes"] += sequence == 0  # event.sequence restarts in each process
            if previous is not None and time_ns - previous <= 300 * SECOND_NS:
                row["active_ns"] += time_ns - previous
                user_day["active_ns"] += time_ns - previous
            previous = time_ns
            for target in (user_day, row):
                target["prompts"] += name == "user_prompt"
                target["api_errors"] += name == "api_error"
                target["tool_results"] += name == "tool_result"
                target["tool_rejections"] += (
                    name == "tool_decision" and attributes["decision"] == "reject"
                )
            if "prompt.id" in attributes:
                prompt_events[str(attributes["prompt.id"])].append(
                    (time_ns, sequence, account, record)
                )
            if name != "api_request":
                continue
            cost = _reported_nano(record)
            model = normalise_model_id(str(attributes["model"]))
            model_day = models[day, account, model]
            for target in (user_day, row, model_day):
                target["api_requests"] += 1
                target["cost_usd"] += cost
                for kind in TOKENS:
                    target[kind] += int(attributes[kind])
            user_day[f"{product}_cost_usd"] += cost
            for optional in (*SPLIT, "cost_usd_micros"):
                if optional in attributes:
                    model_day[optional] += int(attributes[optional])
                else:
                    model_day.setdefault(optional, "")
            price = price_on(model, date.fromisoformat(day))
            model_day["cache_savings_usd"] += int(attributes["cache_read_tokens"]) * (
                price.input - price.cache_read
            )
            tables["team_daily"][day, team]["cost_usd"] += cost
    for key, sessions in session_sets.items():
        days[key]["sessions"] = len(sessions)

    for prompt_id, events in prompt_events.items():
        events.sort(key=lambda item: item[:2])
        row = prompts[(prompt_id,)]
        pending: list[tuple[str, str]] = []
        for time_ns, _, account, record in events:
            attributes, name, day = record.attributes, record.name, _day(time_ns)
            row["session_id"] = attributes["session.id"]
            row["user_account_id"] = account
            row.setdefault("prompted_at", _iso(time_ns))
            row["wall_clock_ms"] = (time_ns - events[0][0]) // 1_000_000
            if name == "user_prompt":
                row["prompt_length"] = int(str(attributes["prompt_length"]))
            if name in ("api_request", "api_error"):
                row.setdefault("model", normalise_model_id(str(attributes["model"])))
            row["api_errors"] += name == "api_error"
            row["retry_attempts"] += int(attributes.get("attempt", 0))
            row["tool_calls"] += name == "tool_result"
            row["tool_failures"] += name == "tool_result" and attributes["success"] == "false"
            row["tool_rejections"] += name == "tool_decision" and attributes["decision"] == "reject"
            if name == "tool_result":
                tool = str(attributes["tool_name"])
                server = tool.split("__")[1] if tool.startswith("mcp__") else ""
                pending.append((tool, server))
                tables["cost_by_tool"][day, account, tool, server]["tool_calls"] += 1
            if name == "api_request":
                cost = _reported_nano(record)
                row["api_requests"] += 1
                row["cost_usd"] += cost
                for kind in TOKENS:
                    row[kind] += int(attributes[kind])
                for tool, server in pending or [("(model)", "")]:
                    allocation = tables["cost_by_tool"][day, account, tool, server]
                    allocation["attributed_requests"] += Fraction(1, len(pending) or 1)
                    allocation["cost_usd"] += Fraction(cost, len(pending) or 1)
                pending = []
        row["is_failed"] = str(row["api_errors"] > 0 and row["api_requests"] == 0).lower()

    for activity in json.loads((compliance / "activities.json").read_text()):
        user_day = days[activity["created_at"][:10], activity["actor"]["user_id"]]
        user_day["compliance_activities"] += 1
        user_day["logins"] += activity["type"] == "sso_login_succeeded"
        user_day["chats_created"] += activity["type"] == "claude_chat_created"
    return tables


def _truth_rows(output_dir: Path, name: str, width: int) -> dict[tuple, dict[str, str]]:
    with (output_dir / "ground_truth" / f"{name}.csv").open() as handle:
        return {tuple(row.values())[:width]: row for row in csv.DictReader(handle)}


def _same(truth: str, naive: object, column: str) -> bool:
    if column == "attributed_requests":
        return abs(Fraction(Decimal(truth)) - Fraction(naive)) < Fraction(1, 10**18)
    if column.endswith("_usd"):
        value = naive if isinstance(naive, Fraction) else Fraction(int(naive))
        return Decimal(truth) == Decimal(usd(value))
    if column == "active_seconds":
        return truth == seconds(int(naive))
    return truth == str(naive)


@pytest.mark.parametrize(
    ("table", "width", "renamed"),
    [
        ("user_daily", 2, {"active_ns": "active_seconds"}),
        ("user_model_daily", 3, {}),
        ("sessions", 1, {"active_ns": "active_seconds", "tool_results": "tool_calls"}),
        ("prompts", 1, {}),
        ("cost_by_tool", 4, {}),
        ("team_daily", 2, {}),
    ],
)
def test_each_table_equals_a_naive_reaggregation_of_the_files(
    small_org: GenerationResult, table: str, width: int, renamed: dict[str, str]
) -> None:
    output_dir = Path(small_org.output_dir)
    naive = _naive_truth(output_dir)[table]
    truth = _truth_rows(output_dir, table, width)  # keyed by the leading columns
    assert set(truth) == set(naive), table
    for key, row in naive.items():
        for column, value in row.items():
            truth_column = renamed.get(column, column)
            assert _same(truth[key][truth_column], value, truth_column), (key, column)


def test_the_naive_reaggregation_sees_every_event(small_org: GenerationResult) -> None:
    events = sum(1 for _ in log_records(Path(small_org.otel_dir)))
    assert events == small_org.events
    with (Path(small_org.output_dir) / "ground_truth" / "user_daily.csv").open() as handle:
        total = sum(Decimal(row["cost_usd"]) for row in csv.DictReader(handle))
    assert str(total) == small_org.total_cost_usd


@pytest.fixture
def organisation() -> Organisation:
    return build_organisation(random.Random(1), 1)


def _event(person, time_ns: int, name: str, sequence: int, **attributes) -> Event:
    cost = attributes.pop("cost_nano", 0)
    event = Event(time_ns, name, person, "s1", "s1:0", "p1", attributes, sequence)
    event.cost_nano = cost
    return event


def _request(person, time_ns: int, sequence: int, cost_nano: int) -> Event:
    tokens = dict.fromkeys(TOKENS, 1)
    return _event(
        person,
        time_ns,
        "api_request",
        sequence,
        model="claude-sonnet-5",
        cost_nano=cost_nano,
        **tokens,
    )


def _tool(person, time_ns: int, sequence: int, tool_name: str) -> Event:
    return _event(person, time_ns, "tool_result", sequence, tool_name=tool_name, success="true")


def _written(truth: GroundTruth, tmp_path: Path, name: str) -> list[dict[str, str]]:
    truth.write(tmp_path)
    with (tmp_path / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_a_request_splits_its_cost_over_the_tool_results_it_consumed(
    organisation: Organisation, tmp_path: Path
) -> None:
    """GIVEN three tool results before a request of 10 n$, THEN each gets 10/3 n$ exactly;
    a request that consumed none is the model's."""
    truth, person = GroundTruth(organisation), organisation.people[0]
    start = MIDNIGHT_NS + 3_600 * SECOND_NS
    truth.add(
        [
            _event(person, start, "user_prompt", 0, prompt_length="10"),
            _tool(person, start + 1_000_000, 1, "Read"),
            _tool(person, start + 2_000_000, 2, "mcp__jira__create_issue"),
            _tool(person, start + 3_000_000, 3, "Read"),
            _request(person, start + 4_000_000, 4, 10),
            _request(person, start + 5_000_000, 5, 7),
        ]
    )
    rows = {row["tool_name"]: row for row in _written(truth, tmp_path, "cost_by_tool")}
    assert rows["Read"]["tool_calls"] == "2"
    assert Decimal(rows["Read"]["cost_usd"]) == Decimal("0.000000006666666667")
    assert Decimal(rows["Read"]["attributed_requests"]) == Decimal("0.6666666666666666666666666667")
    assert rows["mcp__jira__create_issue"]["mcp_server_name"] == "jira"
    assert Decimal(rows["mcp__jira__create_issue"]["cost_usd"]) == Decimal("0.000000003333333333")
    assert (rows["(model)"]["cost_usd"], rows["(model)"]["tool_calls"]) == ("0.000000007", "0")


def test_active_time_counts_gaps_up_to_five_minutes_on_the_later_events_day(
    organisation: Organisation, tmp_path: Path
) -> None:
    truth, person = GroundTruth(organisation), organisation.people[0]
    start = MIDNIGHT_NS - 200 * SECOND_NS  # 23:56:40 the day before
    truth.add(
        [
            _event(person, start, "user_prompt", 0, prompt_length="5"),
            _event(person, start + 100 * SECOND_NS, "tool_decision", 1, decision="reject"),
            # 300 s exactly counts, and falls on the next day (00:03:20).
            _event(person, start + 400 * SECOND_NS, "tool_decision", 2, decision="accept"),
            # 300.001 s does not; the next 2 ms do.
            _event(person, start + 700 * SECOND_NS + 1_000_000, "tool_decision", 3, decision="x"),
            _event(person, start + 700 * SECOND_NS + 3_000_000, "tool_decision", 4, decision="x"),
        ]
    )
    days = {row["usage_date"]: row for row in _written(truth, tmp_path, "user_daily")}
    assert days["2026-03-07"]["active_seconds"] == "100.000"
    assert days["2026-03-07"]["tool_rejections"] == "1"
    assert days["2026-03-08"]["active_seconds"] == "300.002"
    (session,) = _written(truth, tmp_path, "sessions")
    assert session["active_seconds"] == "400.002"
    with pytest.raises(ValueError, match="out of order"):
        truth.add([_event(person, start, "user_prompt", 5)])


@pytest.mark.parametrize(
    ("tool", "server"),
    [("mcp__google_drive__search_files", "google_drive"), ("Read", ""), ("mcp_tool", "")],
)
def test_mcp_servers_come_from_the_tool_name(tool: str, server: str) -> None:
    assert mcp_server_of(tool) == server


def test_money_is_written_as_plain_decimals() -> None:
    assert usd(0) == "0.000000000"
    assert usd(1_234_567_891) == "1.234567891"
    assert usd(Fraction(1, 3)) == "0.000000000333333333"
