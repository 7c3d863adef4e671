"""The billed view of a generated organisation: what Anthropic's billing APIs would report.

Anthropic bills from its own request logs, not from the clients' OpenTelemetry, so the
billed view equals the generator's ground truth (`ground_truth/*.csv`, the exact cost of
every `api_request` event) except for planted, ground-truthed differences that the
warehouse's billed-vs-reported reconciliation must find (issue 17,
`/work/shared/reference/billing-apis.md`):

- `lost_telemetry`: part of one person-day-model's requests never reached the collector,
  so billed exceeds reported;
- `web_search`: server-side web searches ($10 per 1,000), billed but absent from OTel;
- `restated_day`: a provisional day whose amount a later pull sees revised upwards, with a
  newer `data_refreshed_at` (Enterprise cost is revisable for about 30 days, §1.5);
- `subscription_user_absent`: a Claude Code subscription user, billed but absent from
  Claude Code Analytics (§1.4 / fact 5);
- `claude_code_estimate`: Claude Code Analytics' `estimated_cost`, which prices every cache
  write at the 5-minute rate and leaves out web search, so differs from billed.

Everything is read from what `simulation.generate` already writes, and every choice is
drawn from a random stream of the generation's seed, so the same output gives the same
view. Money is integer nano-dollars inside and `Decimal` outside: never floats.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from simulation.pricing import Price, price_on

# The token types of the billing APIs, each with the generator's CSV column it comes from.
TOKEN_TYPES = (
    "uncached_input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
)
WEB_SEARCH_NANO = 10_000_000  # $10 per 1,000 searches (spec §6)
# The share of a row's requests lost from telemetry, and the late batch of the restated day.
LOST_SHARE = (2, 5)
LATE_SHARE = (3, 10)
# Enterprise cost is refreshed about every 4 h (§1 fact 4): the two revisions' timestamps.
FIRST_REFRESH = time(4, 0)
SECOND_REFRESH = time(8, 0)
CENT = Decimal("0.01")


def nano_of(usd: str) -> int:
    """Exact decimal dollars (as the ground truth writes them) as integer nano-dollars."""
    value = Decimal(usd).scaleb(9)
    if value != value.to_integral_value():
        raise ValueError(f"{usd} is not a whole number of nano-dollars")
    return int(value)


def usd_of(nano: int) -> Decimal:
    """Integer nano-dollars as exact decimal dollars."""
    return Decimal(nano).scaleb(-9)


def cents_of(nano: int) -> Decimal:
    """Integer nano-dollars as exact decimal cents (the billing APIs' unit)."""
    return Decimal(nano).scaleb(-7)


@dataclass(frozen=True)
class Member:
    """A person as the billing APIs know them."""

    account_id: str
    email: str
    name: str
    product: str  # cowork | claude_code


@dataclass
class Usage:
    """Billed usage of one person, UTC day and model: tokens by `TOKEN_TYPES`, requests."""

    day: date
    account_id: str
    product: str
    model: str
    rbac_group_id: str | None
    requests: int
    tokens: dict[str, int]
    web_search_requests: int = 0

    @property
    def key(self) -> tuple[date, str, str]:
        """(day, account, model): the row's identity."""
        return self.day, self.account_id, self.model

    def token_costs(self) -> dict[str, int]:
        """Cost of each token type in nano-dollars, at the price of the day."""
        price: Price = price_on(self.model, self.day)
        rates = (
            price.input,
            price.output,
            price.cache_read,
            price.cache_write_5m,
            price.cache_write_1h,
        )
        pairs = zip(TOKEN_TYPES, rates, strict=True)
        return {kind: self.tokens[kind] * rate for kind, rate in pairs}

    @property
    def cost_nano(self) -> int:
        """Everything billed for the row: tokens and web searches."""
        return sum(self.token_costs().values()) + self.web_search_requests * WEB_SEARCH_NANO

    def estimated_cents(self) -> Decimal:
        """Claude Code Analytics' estimate of the row, in cents.

        It prices every cache write at the 5-minute rate and leaves web search out, rounded
        to a hundredth of a cent: why it differs from billed.
        """
        price = price_on(self.model, self.day)
        tokens = self.tokens
        nano = (
            tokens["uncached_input_tokens"] * price.input
            + tokens["output_tokens"] * price.output
            + tokens["cache_read_input_tokens"] * price.cache_read
            + _cache_creation(tokens) * price.cache_write_5m
        )
        return cents_of(nano).quantize(CENT, ROUND_HALF_UP)

    def minus(self, tokens: dict[str, int], requests: int) -> Usage:
        """The row without part of its tokens and requests."""
        return replace(
            self,
            requests=self.requests - requests,
            tokens={kind: self.tokens[kind] - tokens[kind] for kind in TOKEN_TYPES},
        )


def _cache_creation(tokens: dict[str, int]) -> int:
    return (
        tokens["cache_creation.ephemeral_5m_input_tokens"]
        + tokens["cache_creation.ephemeral_1h_input_tokens"]
    )


def _share(tokens: dict[str, int], requests: int, share: tuple[int, int]) -> tuple[dict, int]:
    numerator, denominator = share
    part = {kind: tokens[kind] * numerator // denominator for kind in TOKEN_TYPES}
    return part, max(1, requests * numerator // denominator)


@dataclass(frozen=True)
class Planted:
    """One planted difference between the billed view and another source.

    `amount_usd` is billed minus the other source: minus OTel for `lost_telemetry` and
    `web_search`, final minus provisional for `restated_day`, minus Claude Code Analytics'
    estimate for `subscription_user_absent` and `claude_code_estimate` (both as the final
    revision serves them: Claude Code Analytics sees the restated day's revision too).
    """

    kind: str
    day: date
    account_id: str | None
    product: str
    model: str | None
    amount_usd: Decimal
    detail: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        """The record written to `billing_planted.json`."""
        return {
            "kind": self.kind,
            "usage_date": self.day.isoformat(),
            "user_account_id": self.account_id,
            "product": self.product,
            "model": self.model,
            "amount_usd": f"{self.amount_usd:f}",
            **self.detail,
        }


@dataclass(frozen=True)
class ClaudeCodeRow:
    """One Claude Code Analytics record: a user, a UTC day, local or remote."""

    day: date
    member: Member
    is_remote: bool
    sessions: int
    edits_accepted: int
    writes_accepted: int
    models: tuple[Usage, ...]


@dataclass(frozen=True)
class Activity:
    """One person-day of engagement, for the Enterprise Analytics `/users` endpoint."""

    day: date
    member: Member
    rbac_group_id: str | None
    prompts: int
    sessions: int
    tool_results: int
    tool_calls: dict[str, int]  # by tool name
    chats_created: int


@dataclass
class BillingData:
    """The billed view of one generated organisation.

    It comes in two revisions, 0 (provisional, the first pull's) and 1 (final), which
    differ on the restated day only.
    """

    seed: int
    organization_id: str
    organization_uuid: str
    start_date: date
    watermark: date  # the latest day with data
    members: dict[str, Member]
    groups: dict[str, str]  # rbac group id -> name
    usage: list[Usage]  # final, sorted by key
    reported: dict[tuple[date, str, str], int]  # OTel's cost of each row, nano-dollars
    provisional: list[Usage]
    remote: dict[tuple[date, str], list[Usage]]  # (day, account) -> remote part by model
    subscription_account_id: str | None
    activity: list[Activity]
    planted: list[Planted]

    @property
    def refreshed_at(self) -> tuple[datetime, datetime]:
        """`data_refreshed_at` of the provisional and the final revision."""
        after = self.watermark + timedelta(days=1)
        return (
            datetime.combine(after, FIRST_REFRESH, UTC),
            datetime.combine(after, SECOND_REFRESH, UTC),
        )

    def rows(self, revision: int) -> list[Usage]:
        """The billed usage as a pull in that revision sees it."""
        return self.provisional if revision == 0 else self.usage

    def claude_code_rows(self, day: date, revision: int) -> list[ClaudeCodeRow]:
        """Claude Code Analytics' records of a day: subscription users absent."""
        by_member: dict[str, list[Usage]] = defaultdict(list)
        for row in self.rows(revision):
            if row.day == day and row.product == "claude_code":
                by_member[row.account_id].append(row)
        tools = {(a.member.account_id): a for a in self.activity if a.day == day}
        records = []
        for account_id, rows in sorted(by_member.items(), key=lambda i: self.members[i[0]].email):
            if account_id == self.subscription_account_id:
                continue
            member, activity = self.members[account_id], tools.get(account_id)
            remote = {row.model: row for row in self.remote.get((day, account_id), [])}
            local = tuple(
                row.minus(remote[row.model].tokens, remote[row.model].requests)
                if row.model in remote
                else row
                for row in rows
            )
            sessions = activity.sessions if activity else 0
            calls = activity.tool_calls if activity else {}
            records.append(
                ClaudeCodeRow(
                    day,
                    member,
                    False,
                    sessions - (1 if remote else 0),
                    calls.get("Edit", 0),
                    calls.get("Write", 0),
                    tuple(row for row in local if row.requests),
                )
            )
            if remote:
                records.append(ClaudeCodeRow(day, member, True, 1, 0, 0, tuple(remote.values())))
        return records

    @classmethod
    def load(cls, output_dir: Path) -> BillingData:
        """Derive the billed view from a generator's output directory (read only)."""
        truth, compliance = output_dir / "ground_truth", output_dir / "compliance"
        generation = json.loads((truth / "generation.json").read_text())
        organization = json.loads((compliance / "organizations.json").read_text())[0]
        groups = {g["id"]: g["name"] for g in json.loads((compliance / "groups.json").read_text())}
        group_of_team = {name: group_id for group_id, name in groups.items()}
        products: dict[str, str] = {}
        for session in _read(truth / "sessions.csv"):
            products.setdefault(session["user_account_id"], session["product"])
        members = {
            user["user_account_id"]: Member(
                user["user_account_id"],
                user["user_email"],
                user["full_name"],
                products.get(user["user_account_id"], "cowork"),
            )
            for user in _read(truth / "users.csv")
        }
        team_of = {
            (date.fromisoformat(r["usage_date"]), r["user_account_id"]): r["team_name"]
            for r in _read(truth / "user_daily.csv")
        }
        usage = [
            _usage_of(row, members, group_of_team.get(team_of[_day_account(row)]))
            for row in _read(truth / "user_model_daily.csv")
        ]
        usage.sort(key=lambda row: row.key)
        data = cls(
            seed=int(generation["seed"]),
            organization_id=organization["id"],
            organization_uuid=organization["uuid"],
            start_date=date.fromisoformat(generation["start_date"]),
            watermark=date.fromisoformat(generation["end_date"]),
            members=members,
            groups=groups,
            usage=usage,
            reported={row.key: row.cost_nano for row in usage},
            provisional=usage,
            remote={},
            subscription_account_id=None,
            activity=list(_activity(truth, members, group_of_team)),
            planted=[],
        )
        _plant(data, random.Random(f"{data.seed}:billing"), truth)
        return data

    def daily_totals(self) -> Iterator[tuple[date, str, str, str, int, int, int, int]]:
        """The rows of `billing_daily.csv`, sorted, money in nano-dollars.

        Yields:
            (day, product, model, cost type, requests, reported, billed, provisional billed).
        """
        totals: dict[tuple[date, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for revision, slot in ((1, 2), (0, 3)):
            for row in self.rows(revision):
                tokens = totals[row.day, row.product, row.model, "tokens"]
                tokens[slot] += sum(row.token_costs().values())
                if revision == 1:
                    tokens[0] += row.requests
                    tokens[1] += self.reported[row.key]
                if row.web_search_requests:
                    search = totals[row.day, row.product, row.model, "web_search"]
                    search[slot] += row.web_search_requests * WEB_SEARCH_NANO
        for key, (requests, reported, billed, provisional) in sorted(totals.items()):
            yield (*key, requests, reported, billed, provisional)

    def write_ground_truth(self, directory: Path) -> None:
        """Write `billing_daily.csv` and `billing_planted.json` into `directory`.

        `billing_daily.csv` has one row per UTC day, product, model and cost type (`tokens`
        or `web_search`): requests, the cost OTel reports, the final billed cost and the
        provisional billed cost (the first pull's), in exact decimal dollars.
        """
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "billing_daily.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                (
                    "usage_date",
                    "product",
                    "model",
                    "cost_type",
                    "requests",
                    "reported_cost_usd",
                    "billed_cost_usd",
                    "provisional_billed_cost_usd",
                )
            )
            for day, product, model, cost_type, requests, *money in self.daily_totals():
                amounts = (f"{usd_of(nano):f}" for nano in money)
                writer.writerow((day.isoformat(), product, model, cost_type, requests, *amounts))
        provisional_at, final_at = self.refreshed_at
        summary = {
            "seed": self.seed,
            "watermark": self.watermark.isoformat(),
            "data_refreshed_at": {
                "provisional": provisional_at.isoformat().replace("+00:00", "Z"),
                "final": final_at.isoformat().replace("+00:00", "Z"),
            },
            "billed_total_usd": f"{usd_of(sum(row.cost_nano for row in self.usage)):f}",
            "planted": [planted.as_json() for planted in self.planted],
        }
        (directory / "billing_planted.json").write_text(json.dumps(summary, indent=1) + "\n")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _day_account(row: dict[str, str]) -> tuple[date, str]:
    return date.fromisoformat(row["usage_date"]), row["user_account_id"]


def _usage_of(row: dict[str, str], members: dict[str, Member], group: str | None) -> Usage:
    # Cowork clients send no 5m/1h split: they write the 5-minute cache only.
    creation = int(row["cache_creation_tokens"])
    write_1h = int(row["cache_creation_1h_tokens"] or 0)
    write_5m = int(row["cache_creation_5m_tokens"] or creation - write_1h)
    account_id = row["user_account_id"]
    return Usage(
        day=date.fromisoformat(row["usage_date"]),
        account_id=account_id,
        product=members[account_id].product,
        model=row["model"],
        rbac_group_id=group,
        requests=int(row["api_requests"]),
        tokens=dict(
            zip(
                TOKEN_TYPES,
                (
                    int(row["input_tokens"]),
                    int(row["output_tokens"]),
                    int(row["cache_read_tokens"]),
                    write_5m,
                    write_1h,
                ),
                strict=True,
            )
        ),
    )


def _activity(
    truth: Path, members: dict[str, Member], group_of_team: dict[str, str]
) -> Iterable[Activity]:
    tools: dict[tuple[date, str], dict[str, int]] = defaultdict(dict)
    for row in _read(truth / "cost_by_tool.csv"):
        tools[_day_account(row)][row["tool_name"]] = int(row["tool_calls"])
    for row in _read(truth / "user_daily.csv"):
        day, account_id = _day_account(row)
        yield Activity(
            day=day,
            member=members[account_id],
            rbac_group_id=group_of_team.get(row["team_name"]),
            prompts=int(row["prompts"]),
            sessions=int(row["sessions"]),
            tool_results=int(row["tool_results"]),
            tool_calls=tools.get((day, account_id), {}),
            chats_created=int(row["chats_created"]),
        )


def _plant(data: BillingData, rng: random.Random, truth: Path) -> None:
    """Plant every difference in `data`, in a fixed order of draws from `rng`."""
    rows = {row.key: row for row in data.usage}
    days = sorted({row.day for row in data.usage})
    if not days:
        return
    # The latest day before the watermark: provisional, and complete in every time zone.
    restated_day = max([day for day in days if day < data.watermark] or days)
    lost_days = [day for day in days if day != restated_day] or days

    # Lost telemetry: the collector never got part of one row's requests.
    lost_day = rng.choice(lost_days)
    target = max((row for row in data.usage if row.day == lost_day), key=lambda r: r.cost_nano)
    extra, extra_requests = _share(target.tokens, target.requests, LOST_SHARE)
    grown = replace(
        target,
        requests=target.requests + extra_requests,
        tokens={kind: target.tokens[kind] + extra[kind] for kind in TOKEN_TYPES},
    )
    data.planted.append(
        Planted(
            "lost_telemetry",
            lost_day,
            target.account_id,
            target.product,
            target.model,
            usd_of(grown.cost_nano - target.cost_nano),
            {"lost_requests": str(extra_requests)},
        )
    )
    rows[target.key] = grown

    # Web searches on two person-days, billed against the day's busiest model.
    for day in sorted(rng.sample(days, k=min(2, len(days)))):
        busiest = max((r for r in rows.values() if r.day == day), key=lambda r: r.requests)
        searches = rng.randint(5, 40)
        rows[busiest.key] = replace(busiest, web_search_requests=searches)
        data.planted.append(
            Planted(
                "web_search",
                day,
                busiest.account_id,
                busiest.product,
                busiest.model,
                usd_of(searches * WEB_SEARCH_NANO),
                {"web_search_requests": str(searches)},
            )
        )
    data.usage = sorted(rows.values(), key=lambda row: row.key)

    _plant_restated_day(data, restated_day, lost_key=target.key)
    _plant_claude_code(data, rng, truth)


def _plant_restated_day(data: BillingData, day: date, lost_key: tuple[date, str, str]) -> None:
    """The first pull misses a late batch of the day's most expensive row.

    Not the row that lost telemetry (one day of usage has both): the two differences pull
    its reconciliation reason opposite ways, so neither would be seen. A day with no other
    row is not restated.
    """
    restatable = [row for row in data.usage if row.day == day and row.key != lost_key]
    if not restatable:
        data.provisional = list(data.usage)
        return
    late_target = max(restatable, key=lambda row: row.cost_nano)
    late, late_requests = _share(late_target.tokens, late_target.requests, LATE_SHARE)
    early = late_target.minus(late, late_requests)
    data.provisional = [early if row is late_target else row for row in data.usage]
    provisional_at, final_at = data.refreshed_at
    data.planted.append(
        Planted(
            "restated_day",
            day,
            late_target.account_id,
            late_target.product,
            late_target.model,
            usd_of(late_target.cost_nano - early.cost_nano),
            {
                "provisional_refreshed_at": provisional_at.isoformat(),
                "final_refreshed_at": final_at.isoformat(),
            },
        )
    )


def _plant_claude_code(data: BillingData, rng: random.Random, truth: Path) -> None:
    """Plant what only Claude Code Analytics shows.

    That is a subscription user it omits, one remote session, and per day the difference
    between its estimates and billed.
    """
    coders = sorted({row.account_id for row in data.usage if row.product == "claude_code"})
    if not coders:
        return
    data.subscription_account_id = rng.choice(coders)
    for day in sorted({row.day for row in data.usage}):
        absent = [
            r for r in data.usage if r.day == day and r.account_id == data.subscription_account_id
        ]
        if absent:
            data.planted.append(
                Planted(
                    "subscription_user_absent",
                    day,
                    data.subscription_account_id,
                    "claude_code",
                    None,
                    usd_of(sum(r.cost_nano for r in absent)),
                )
            )
    reported = [a for a in coders if a != data.subscription_account_id]
    _plant_remote_session(data, rng, truth, reported)
    for day in sorted({row.day for row in data.usage}):
        counted = [
            r
            for r in data.usage
            if r.day == day and r.product == "claude_code" and r.account_id in reported
        ]
        if counted:
            billed = cents_of(sum(r.cost_nano for r in counted))
            # Estimated per served record (a remote session's own record rounds on its own).
            served = (usage for row in data.claude_code_rows(day, 1) for usage in row.models)
            estimated = sum((usage.estimated_cents() for usage in served), Decimal(0))
            data.planted.append(
                Planted(
                    "claude_code_estimate",
                    day,
                    None,
                    "claude_code",
                    None,
                    (billed - estimated) / 100,
                    {"estimated_cost_cents": f"{estimated:f}"},
                )
            )


def _plant_remote_session(
    data: BillingData, rng: random.Random, truth: Path, coders: list[str]
) -> None:
    """Make one whole session of a Claude Code user a remote one.

    Claude Code Analytics shows it as an `is_remote` row beside the user-day's local row
    (billing-apis.md §1.4).
    """
    sessions: dict[tuple[date, str], list[str]] = defaultdict(list)
    for session in _read(truth / "sessions.csv"):
        first, last = session["first_event_at"][:10], session["last_event_at"][:10]
        if session["user_account_id"] in coders and first == last:
            sessions[date.fromisoformat(first), session["user_account_id"]].append(
                session["session_id"]
            )
    candidates = sorted(key for key, ids in sessions.items() if len(ids) >= 2)
    if not candidates:
        return
    day, account_id = rng.choice(candidates)
    session_id = sorted(sessions[day, account_id])[0]
    by_model: dict[str, list[dict[str, str]]] = defaultdict(list)
    for prompt in _read(truth / "prompts.csv"):
        if prompt["session_id"] == session_id and int(prompt["api_requests"]):
            by_model[prompt["model"]].append(prompt)
    billed = {r.model: r for r in data.usage if (r.day, r.account_id) == (day, account_id)}
    remote = []
    for model, prompts in sorted(by_model.items()):
        remote.append(
            replace(
                billed[model],
                requests=sum(int(p["api_requests"]) for p in prompts),
                web_search_requests=0,
                tokens=_prompt_tokens(prompts),
            )
        )
    data.remote[day, account_id] = remote


def _prompt_tokens(prompts: list[dict[str, str]]) -> dict[str, int]:
    """Tokens of a session's prompts.

    The prompts' ground truth has no 5m/1h split of cache writes, so they all go under the
    5-minute type: Claude Code Analytics reports only their total
    (`tokens.cache_creation`), which stays exact.
    """
    return {
        "uncached_input_tokens": sum(int(p["input_tokens"]) for p in prompts),
        "output_tokens": sum(int(p["output_tokens"]) for p in prompts),
        "cache_read_input_tokens": sum(int(p["cache_read_tokens"]) for p in prompts),
        "cache_creation.ephemeral_5m_input_tokens": sum(
            int(p["cache_creation_tokens"]) for p in prompts
        ),
        "cache_creation.ephemeral_1h_input_tokens": 0,
    }
