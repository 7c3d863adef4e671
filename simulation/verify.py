"""Check the marts against the generator's ground truth, exactly.

Every mart row is mapped back to the person's Compliance account through
`marts.dim_users.user_account_id`, then compared column by column with the ground-truth
CSVs (`simulation/ground_truth.py`): counts to the unit, reported money (the sum of the
clients' float `cost_usd`, as DECIMAL(38, 9)) to a micro-dollar, money recomputed from the
price seed to a nano-dollar.

Under privacy `strict` the marts name people by keyed pseudonym: given the pepper, the
ground truth's identities are pseudonymised the same way (`governance.pseudonyms`) before
the comparison, so the same rows are compared in every mode.
"""

from __future__ import annotations

import csv
import inspect
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from governance.pseudonyms import pseudonym
from simulation.ground_truth import COMPLIANCE_COUNTS, TOKEN_KINDS

MONEY_TOLERANCE = Decimal("0.000001")  # client doubles summed: float noise, far below this
EXACT_TOLERANCE = Decimal("0.000000001")  # recomputed from integer nano-dollar prices
MINUTES_TOLERANCE = Decimal("0.0005")  # `active_minutes` is rounded to 3 decimals
SHOWN_PER_MART = 5
CACHE_WRITE_SPLIT = ("cache_creation_5m_tokens", "cache_creation_1h_tokens")
# SQL for the person behind a mart row; unresolved identities stay visible as such.
ACCOUNT = "coalesce(users.user_account_id, 'unresolved user_key ' || mart.user_key)"
# The ground truth's columns naming a person, which a `strict` serving database pseudonymises
# (the marts declare them `pii: identifier`).
IDENTITY_COLUMNS = ("user_account_id", "user_email", "full_name")


@dataclass(frozen=True)
class Column:
    """One compared column: the mart's SQL expression and the ground truth's CSV column."""

    mart: str
    truth: str
    kind: str = "count"  # count | text | bool | money | exact | minutes | epoch_ms | optional

    @classmethod
    def same(cls, *names: str, kind: str = "count") -> tuple[Column, ...]:
        """Columns named alike in the mart and in the ground truth."""
        return tuple(cls(f"mart.{name}", name, kind) for name in names)


@dataclass(frozen=True)
class MartCheck:
    """How one mart is compared: its key (mart SQL, truth column) pairs and its columns."""

    mart: str
    keys: tuple[tuple[str, str], ...]
    columns: tuple[Column, ...]
    # Mart rows absent from the ground truth are allowed when this SQL condition holds.
    extra_rows_allowed_when: str = "false"


def _iso_to_epoch_ms(value: str) -> int:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _decimal(value: object) -> Decimal:
    return Decimal(str(value))


def _equal(kind: str, want: str, got: object) -> bool:
    """Whether a mart value matches a ground-truth CSV value under the column's rule."""
    if kind == "text":
        return (got if got is not None else "") == want
    if kind == "optional":  # a count that is null where the truth is empty
        return got is None if want == "" else got is not None and int(got) == int(want)
    if got is None:
        return False
    if kind == "count":
        return int(got) == int(want)
    if kind == "bool":
        return bool(got) == (want == "true")
    if kind == "epoch_ms":
        return int(got) == _iso_to_epoch_ms(want)
    if kind == "minutes":
        return abs(_decimal(got) - Decimal(want) / 60) <= MINUTES_TOLERANCE + EXACT_TOLERANCE
    tolerance = MONEY_TOLERANCE if kind == "money" else EXACT_TOLERANCE
    return abs(_decimal(got) - Decimal(want)) <= tolerance


def _read_csv(path: Path, pepper: bytes | None = None) -> list[dict[str, str]]:
    """The rows of a ground-truth CSV; with a pepper, its identities as `strict` shows them."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if pepper is None:
        return rows
    return [
        row
        | {
            column: pseudonym(pepper, row[column])
            for column in IDENTITY_COLUMNS
            if row.get(column)  # empty is null, which stays null
        }
        for row in rows
    ]


class _Report:
    """Differences per mart, shown a few at a time."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = defaultdict(list)

    def add(self, mart: str, problem: str) -> None:
        self.problems[mart].append(problem)

    def lines(self) -> list[str]:
        lines = []
        for mart, problems in self.problems.items():
            lines += [f"{mart}: {problem}" for problem in problems[:SHOWN_PER_MART]]
            if len(problems) > SHOWN_PER_MART:
                lines.append(f"{mart}: ... and {len(problems) - SHOWN_PER_MART} more differences")
        return lines


def _compare(
    connection: duckdb.DuckDBPyConnection,
    check: MartCheck,
    expected: Iterable[dict[str, str]],
    report: _Report,
    *,
    skip: Callable[[dict[str, str], Column], bool] = lambda row, column: False,
) -> None:
    """Compare one mart with its expected rows, key by key and column by column."""
    mart = f"marts.{check.mart}"
    selected = [sql for sql, _ in check.keys] + [column.mart for column in check.columns]
    try:
        rows = connection.execute(
            f"select {', '.join(selected)}, ({check.extra_rows_allowed_when}) "
            f"from {mart} as mart left join marts.dim_users as users using (user_key)"
            if "users." in " ".join(selected)
            else f"select {', '.join(selected)}, ({check.extra_rows_allowed_when}) "
            f"from {mart} as mart"
        ).fetchall()
    except duckdb.Error as error:
        report.add(mart, f"cannot be read: {str(error).splitlines()[0]}")
        return
    width = len(check.keys)
    actual: dict[tuple, tuple] = {}
    for row in rows:
        key = tuple("" if value is None else str(value) for value in row[:width])
        if key in actual:
            report.add(mart, f"more than one row for {key}")
        actual[key] = row[width:]
    wanted = {tuple(row[truth] for _, truth in check.keys): row for row in expected}
    for key in sorted(wanted.keys() - actual.keys()):
        report.add(mart, f"missing row {key}")
    for key in sorted(actual.keys() - wanted.keys()):
        if not actual[key][-1]:
            report.add(mart, f"row not in the ground truth {key}")
    for key in sorted(wanted.keys() & actual.keys()):
        for column, got in zip(check.columns, actual[key], strict=False):
            want = wanted[key][column.truth]
            if not skip(wanted[key], column) and not _equal(column.kind, want, got):
                report.add(mart, f"{key} {column.mart.removeprefix('mart.')}: {got} != {want}")


def _check_dim_users(
    connection: duckdb.DuckDBPyConnection, users: list[dict[str, str]], report: _Report
) -> None:
    mart = "marts.dim_users"
    try:
        rows = connection.execute(
            "select user_key, user_account_id, user_email, full_name, current_team_name,"
            " is_in_directory from marts.dim_users"
        ).fetchall()
    except duckdb.Error as error:
        report.add(mart, f"cannot be read: {str(error).splitlines()[0]}")
        return
    by_account: dict[str, tuple] = {}
    for row in rows:
        if row[1] is None:
            report.add(mart, f"user_key {row[0]} has no account (email {row[2]})")
        elif row[1] in by_account:
            report.add(mart, f"more than one row for {row[1]}")
        else:
            by_account[row[1]] = row
    wanted = {user["user_account_id"]: user for user in users}
    for account_id in sorted(wanted.keys() - by_account.keys()):
        report.add(mart, f"missing person {account_id}")
    for account_id in sorted(by_account.keys() - wanted.keys()):
        report.add(mart, f"person not in the directory {account_id}")
    for account_id in sorted(wanted.keys() & by_account.keys()):
        _, _, email, full_name, team_name, in_directory = by_account[account_id]
        user = wanted[account_id]
        for column, got, want in (
            ("user_email", email, user["user_email"]),
            ("full_name", full_name, user["full_name"]),
            ("current_team_name", team_name, user["current_team_name"]),
            ("is_in_directory", in_directory, True),
        ):
            if got != want:
                report.add(mart, f"{account_id} {column}: {got} != {want}")


def _check_totals(
    connection: duckdb.DuckDBPyConnection,
    user_daily: list[dict[str, str]],
    report: _Report,
) -> None:
    """Every mart's total cost (and the event-grain marts' row counts) equals the truth's."""
    cost = sum(Decimal(row["cost_usd"]) for row in user_daily)
    api_requests = sum(int(row["api_requests"]) for row in user_daily)
    tool_events = sum(int(row["tool_results"]) + int(row["tool_rejections"]) for row in user_daily)
    for mart, expression, want, kind in (
        ("fct_user_daily_activity", "sum(cost_usd)", cost, "money"),
        ("fct_cost_daily", "sum(cost_usd)", cost, "money"),
        ("fct_cost_daily", "sum(recomputed_cost_usd)", cost, "exact"),
        ("fct_sessions", "sum(cost_usd)", cost, "money"),
        ("fct_prompts", "sum(cost_usd)", cost, "money"),
        ("fct_api_requests", "sum(cost_usd)", cost, "money"),
        ("fct_cost_by_tool", "sum(cost_usd)", cost, "money"),
        ("fct_team_cost_monthly", "sum(spend_usd)", cost, "money"),
        ("fct_api_requests", "count(*)", api_requests, "count"),
        ("fct_tool_calls", "count(*)", tool_events, "count"),
    ):
        try:
            (got,) = connection.execute(f"select {expression} from marts.{mart}").fetchone()
        except duckdb.Error as error:
            report.add(f"marts.{mart}", f"cannot be read: {str(error).splitlines()[0]}")
            continue
        if not _equal(kind, str(want), got if got is not None else 0):
            report.add(f"marts.{mart}", f"total {expression}: {got} != {want}")


def _check_planted_anomalies(
    connection: duckdb.DuckDBPyConnection, planted: list[dict[str, str]], report: _Report
) -> None:
    """Every planted cost spike is flagged as that person's anomaly, driven by its model.

    Other flagged days are not differences: the rule judges the organisation's ordinary
    variation too, and what it flags there is the rule's business (see its tests).
    """
    mart = "marts.fct_cost_anomalies"
    try:
        rows = connection.execute(
            f"select {ACCOUNT}, cast(mart.activity_date as varchar), mart.cost_usd,"
            f" mart.top_model from {mart} as mart"
            " left join marts.dim_users as users using (user_key)"
            " where mart.subject_kind = 'user'"
        ).fetchall()
    except duckdb.Error as error:
        report.add(mart, f"cannot be read: {str(error).splitlines()[0]}")
        return
    flagged = {(account, day): (cost, model) for account, day, cost, model in rows}
    for spike in planted:
        key = (spike["user_account_id"], spike["usage_date"])
        if key not in flagged:
            report.add(mart, f"planted cost spike not flagged {key}")
            continue
        cost, model = flagged[key]
        if not _equal("money", spike["cost_usd"], cost):
            report.add(mart, f"{key} cost_usd: {cost} != {spike['cost_usd']}")
        if model != spike["model"]:
            report.add(mart, f"{key} top_model: {model} != {spike['model']}")


def _default_activities_since() -> date:
    """The first UTC day whose Compliance activities a first pipeline run has landed."""
    from ingestion.compliance_api.pull import pull_compliance

    backfill_days = inspect.signature(pull_compliance).parameters["backfill_days"].default
    return datetime.now(UTC).date() - timedelta(days=backfill_days - 1)


USER_DAILY = MartCheck(
    "fct_user_daily_activity",
    keys=((ACCOUNT, "user_account_id"), ("cast(mart.activity_date as varchar)", "usage_date")),
    columns=(
        Column("mart.team_name", "team_name", "text"),
        *Column.same("sessions", "prompts", "api_requests", "api_errors"),
        Column("mart.tool_calls", "tool_results"),
        Column("mart.tool_rejections", "tool_rejections"),
        Column("mart.active_minutes", "active_seconds", "minutes"),
        *Column.same(*TOKEN_KINDS),
        *Column.same("cost_usd", "cowork_cost_usd", "claude_code_cost_usd", kind="money"),
        *Column.same(*COMPLIANCE_COUNTS),
    ),
)
COST_DAILY = MartCheck(
    "fct_cost_daily",
    keys=(
        (ACCOUNT, "user_account_id"),
        ("cast(mart.activity_date as varchar)", "usage_date"),
        ("mart.model", "model"),
    ),
    columns=(
        Column("mart.team_name", "team_name", "text"),
        *Column.same("api_requests", *TOKEN_KINDS),
        # Only clients that split cache writes by TTL send these: null otherwise.
        *Column.same(*CACHE_WRITE_SPLIT, kind="optional"),
        Column("mart.cost_usd", "cost_usd", "money"),
        Column("mart.cost_usd_micros", "cost_usd_micros", "optional"),
        Column("mart.recomputed_cost_usd", "cost_usd", "exact"),
        Column("mart.cost_difference_usd", "zero", "money"),
        Column("mart.cache_savings_usd", "cache_savings_usd", "exact"),
        Column("mart.is_priced", "true", "bool"),
    ),
)
SESSIONS = MartCheck(
    "fct_sessions",
    keys=(("mart.session_id", "session_id"),),
    columns=(
        Column(ACCOUNT, "user_account_id", "text"),
        Column("mart.product", "product", "text"),
        Column("epoch_ms(mart.started_at)", "first_event_at", "epoch_ms"),
        Column("epoch_ms(mart.ended_at)", "last_event_at", "epoch_ms"),
        Column("cast(mart.activity_date as varchar)", "activity_date", "text"),
        Column("mart.is_resumed", "is_resumed", "bool"),
        *Column.same("processes", "prompts", "api_requests", "api_errors", "tool_calls"),
        *Column.same("tool_rejections", *TOKEN_KINDS),
        Column("mart.active_seconds", "active_seconds", "exact"),
        Column("mart.cost_usd", "cost_usd", "money"),
    ),
)
PROMPTS = MartCheck(
    "fct_prompts",
    keys=(("mart.prompt_id", "prompt_id"),),
    columns=(
        Column("mart.session_id", "session_id", "text"),
        Column(ACCOUNT, "user_account_id", "text"),
        Column("mart.model", "model", "text"),
        Column("epoch_ms(mart.prompted_at)", "prompted_at", "epoch_ms"),
        Column("cast(mart.activity_date as varchar)", "activity_date", "text"),
        *Column.same("prompt_length", "api_requests", "api_errors", "retry_attempts"),
        *Column.same("tool_calls", "tool_rejections", "tool_failures", *TOKEN_KINDS),
        Column("mart.cost_usd", "cost_usd", "money"),
        Column("mart.wall_clock_ms", "wall_clock_ms"),
        Column("mart.is_failed", "is_failed", "bool"),
    ),
)
COST_BY_TOOL = MartCheck(
    "fct_cost_by_tool",
    keys=(
        ("cast(mart.activity_date as varchar)", "usage_date"),
        (ACCOUNT, "user_account_id"),
        ("mart.tool_name", "tool_name"),
        ("mart.mcp_server_name", "mcp_server_name"),
    ),
    columns=(
        Column("mart.tool_calls", "tool_calls"),
        Column("mart.attributed_requests", "attributed_requests", "money"),
        Column("mart.cost_usd", "cost_usd", "money"),
    ),
)
TEAM_MONTHLY = MartCheck(
    "fct_team_cost_monthly",
    keys=(("mart.team_name", "team_name"), ("cast(mart.month as varchar)", "month")),
    columns=(Column("mart.spend_usd", "spend_usd", "money"),),
    # Teams with a budget and no spend have rows too.
    extra_rows_allowed_when="coalesce(mart.spend_usd, 0) = 0",
)

# Days billed nothing and rows that neither source has money on are not in the truth.
RECONCILIATION = MartCheck(
    "fct_cost_reconciliation_daily",
    keys=(
        ("cast(mart.cost_date as varchar)", "cost_date"),
        ("mart.product", "product"),
        ("mart.model", "model"),
    ),
    columns=(
        Column("mart.reported_cost_usd", "reported_cost_usd", "money"),
        Column("mart.billed_cost_usd", "billed_cost_usd", "exact"),
        Column("mart.not_in_telemetry_usd", "not_in_telemetry_usd", "exact"),
        Column("mart.reason", "reason", "text"),
    ),
    extra_rows_allowed_when="mart.reported_cost_usd = 0 and mart.billed_cost_usd = 0",
)


def _check_billed_days(
    connection: duckdb.DuckDBPyConnection, daily: dict[str, Decimal], report: _Report
) -> None:
    """Each day's rows of `fct_billed_cost_daily` add up to exactly its billed total."""
    mart = "marts.fct_billed_cost_daily"
    try:
        rows = connection.execute(
            f"select cast(cost_date as varchar), sum(billed_cost_usd) from {mart} group by 1"
        ).fetchall()
    except duckdb.Error as error:
        report.add(mart, f"cannot be read: {str(error).splitlines()[0]}")
        return
    landed = dict(rows)
    for day in sorted(daily.keys() | landed.keys()):
        want, got = daily.get(day, Decimal(0)), landed.get(day, Decimal(0))
        if not _equal("exact", str(want), got):
            report.add(mart, f"{day} billed total: {got} != {want}")


def mart_mismatches(
    serving_database: Path,
    ground_truth_dir: Path,
    *,
    activities_since: date | None = None,
    pepper: bytes | None = None,
) -> list[str]:
    """Every difference between the marts and the generator's ground truth.

    Compares `dim_users`, `fct_user_daily_activity`, `fct_cost_daily`, `fct_sessions`,
    `fct_prompts`, `fct_cost_by_tool` and `fct_team_cost_monthly` row by row, the total
    cost of every mart (with `fct_api_requests` and `fct_tool_calls` row counts), and that
    `fct_cost_anomalies` flags every planted cost spike.

    Args:
        serving_database: the serving DuckDB file (schema `marts`).
        ground_truth_dir: the generator's `ground_truth/` folder.
        activities_since: first UTC day whose Compliance activities were landed; earlier
            days are compared without the activity counts. By default, the first day a
            first pipeline run back-fills (today minus the pull's back-fill window).
        pepper: the pepper the marts were published with under privacy `strict`
            (`Settings.pepper`); None when they hold real identities.

    Returns:
        Human-readable differences, a few per mart with a count of the rest; empty when
        every mart matches.
    """
    since = (activities_since or _default_activities_since()).isoformat()
    truth = {
        name: _read_csv(ground_truth_dir / f"{name}.csv", pepper)
        for name in ("user_daily", "user_model_daily", "sessions", "prompts", "cost_by_tool")
    }
    teams = {(row["user_account_id"], row["usage_date"]): row for row in truth["user_daily"]}
    # Days before the activity back-fill have no Compliance side in the warehouse.
    user_daily = [
        row for row in truth["user_daily"] if row["usage_date"] >= since or int(row["sessions"])
    ]
    cost_daily = [
        {
            **row,
            "team_name": teams[row["user_account_id"], row["usage_date"]]["team_name"],
            "zero": "0",
            "true": "true",
        }
        for row in truth["user_model_daily"]
    ]
    sessions = [
        {
            **row,
            "activity_date": row["first_event_at"][:10],
            "is_resumed": str(int(row["processes"]) > 1).lower(),
        }
        for row in truth["sessions"]
    ]
    prompts = [{**row, "activity_date": row["prompted_at"][:10]} for row in truth["prompts"]]
    monthly: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in _read_csv(ground_truth_dir / "team_daily.csv"):
        monthly[row["team_name"], row["usage_date"][:8] + "01"] += Decimal(row["cost_usd"])
    team_monthly = [
        {"team_name": team, "month": month, "spend_usd": str(spend)}
        for (team, month), spend in monthly.items()
    ]
    report = _Report()
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        _check_dim_users(connection, _read_csv(ground_truth_dir / "users.csv", pepper), report)
        _compare(
            connection,
            USER_DAILY,
            user_daily,
            report,
            skip=lambda row, column: (
                column.truth in COMPLIANCE_COUNTS and row["usage_date"] < since
            ),
        )
        _compare(connection, COST_DAILY, cost_daily, report)
        _compare(connection, SESSIONS, sessions, report)
        _compare(connection, PROMPTS, prompts, report)
        _compare(connection, COST_BY_TOOL, truth["cost_by_tool"], report)
        _compare(connection, TEAM_MONTHLY, team_monthly, report)
        _check_totals(connection, truth["user_daily"], report)
        planted = ground_truth_dir / "planted_anomalies.csv"
        spikes = _read_csv(planted, pepper) if planted.exists() else []
        if spikes:
            _check_planted_anomalies(connection, spikes, report)
    return report.lines()


def billing_mismatches(
    serving_database: Path, billing_truth_dir: Path, *, final: bool, by_product: bool = True
) -> list[str]:
    """Every difference between the billed-cost marts and the billing ground truth.

    Compares each day's billed total in `fct_billed_cost_daily`, and each day, product and
    model of `fct_cost_reconciliation_daily` (reported, billed, not in telemetry, and the
    reason each planted difference must be given) with `billing_daily.csv` and
    `billing_planted.json` (`simulation.billing.BillingData.write_ground_truth`).

    Args:
        serving_database: the serving DuckDB file (schema `marts`).
        billing_truth_dir: where the billing ground truth was written.
        final: whether the last pull saw the final revision (else the provisional one,
            where the restated day is still short).
        by_product: False when the bill came from the legacy report, which has no product:
            the reconciliation then compares all products at once.
    """
    planted = json.loads((billing_truth_dir / "billing_planted.json").read_text())
    billed_column = "billed_cost_usd" if final else "provisional_billed_cost_usd"
    daily: dict[str, Decimal] = defaultdict(Decimal)
    rows: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in _read_csv(billing_truth_dir / "billing_daily.csv"):
        billed = Decimal(row[billed_column])
        daily[row["usage_date"]] += billed
        key = (row["usage_date"], row["product"] if by_product else "(all)", row["model"])
        rows[key]["reported_cost_usd"] += Decimal(row["reported_cost_usd"])
        rows[key]["billed_cost_usd"] += billed
        if row["cost_type"] != "tokens":
            rows[key]["not_in_telemetry_usd"] += billed
    reasons = {"lost_telemetry": "telemetry_gap", "web_search": "not_in_telemetry"}
    if not final:
        reasons["restated_day"] = "provisional"
    expected_reason: dict[tuple[str, str, str], str] = {}
    for difference in planted["planted"]:
        if difference["kind"] in reasons:
            product = difference["product"] if by_product else "(all)"
            key = (difference["usage_date"], product, difference["model"])
            # A telemetry gap outweighs a web search on the same row.
            if expected_reason.get(key) != "telemetry_gap":
                expected_reason[key] = reasons[difference["kind"]]
    expected = [
        {
            "cost_date": day,
            "product": product,
            "model": model,
            **{name: str(amount) for name, amount in amounts.items()},
            "not_in_telemetry_usd": str(amounts.get("not_in_telemetry_usd", Decimal(0))),
            "reason": expected_reason.get((day, product, model), ""),
        }
        for (day, product, model), amounts in rows.items()
    ]
    report = _Report()
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        _check_billed_days(connection, daily, report)
        _compare(connection, RECONCILIATION, expected, report)
    return report.lines()
