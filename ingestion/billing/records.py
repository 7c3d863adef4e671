"""Rows of the billing reports: each API's record checked and typed, or a MalformedRecord.

Money is exact (`ingestion.billing.money`); a day bucket must be one whole UTC day; values
are kept as the API spells them except `speed` (the APIs' `standard` is OTel's `normal`,
mapped in staging with the other join keys).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from ingestion.anthropic_api.records import (
    MalformedRecord,
    describe,
    json_text,
    parse_timestamp,
    valid_unicode,
)
from ingestion.billing.money import USD, cents_to_usd

BETA = "analytics_beta"  # the Usage and Cost Analytics API (beta)
LEGACY = "admin_legacy"  # the Admin API's cost_report
# The dimensions of a cost breakdown row (null when a source does not give one).
BREAKDOWN_DIMENSIONS = ("product", "model", "cost_type", "token_type", "workspace_id")
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_PROVENANCE = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("data_refreshed_at", _TIMESTAMP),
    pa.field("window_start", _TIMESTAMP, nullable=False),
    pa.field("window_end", _TIMESTAMP, nullable=False),
    pa.field("pulled_at", _TIMESTAMP, nullable=False),
]
COST_TOTALS_SCHEMA = pa.schema(
    [
        pa.field("cost_date", pa.date32(), nullable=False),
        pa.field("amount_usd", USD, nullable=False),
        pa.field("list_amount_usd", USD),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("requests", pa.int64()),
        *_PROVENANCE,
    ]
)
COST_BREAKDOWN_SCHEMA = pa.schema(
    [
        COST_TOTALS_SCHEMA.field("cost_date"),
        *(pa.field(name, pa.string()) for name in BREAKDOWN_DIMENSIONS),
        pa.field("description", pa.string()),
        *(COST_TOTALS_SCHEMA.field(name) for name in ("amount_usd", "list_amount_usd")),
        *(COST_TOTALS_SCHEMA.field(name) for name in ("currency", "requests")),
        *_PROVENANCE,
    ]
)
CLAUDE_CODE_USERS_SCHEMA = pa.schema(
    [
        pa.field("usage_date", pa.date32(), nullable=False),
        pa.field("actor_type", pa.string(), nullable=False),
        pa.field("email", pa.string()),
        pa.field("api_key_name", pa.string()),
        pa.field("is_remote", pa.bool_(), nullable=False),
        pa.field("organization_id", pa.string()),
        pa.field("customer_type", pa.string()),
        pa.field("subscription_type", pa.string()),
        pa.field("terminal_type", pa.string()),
        pa.field("sessions", pa.int64()),
        pa.field("lines_added", pa.int64()),
        pa.field("lines_removed", pa.int64()),
        pa.field("commits", pa.int64()),
        pa.field("pull_requests", pa.int64()),
        # Edit-tool decisions over every tool of `tool_actions` (a map, §1.4).
        pa.field("edits_accepted", pa.int64()),
        pa.field("edits_rejected", pa.int64()),
        pa.field("tool_actions_json", pa.string()),
        pa.field("pulled_at", _TIMESTAMP, nullable=False),
    ]
)
CLAUDE_CODE_MODELS_SCHEMA = pa.schema(
    [
        *(CLAUDE_CODE_USERS_SCHEMA.field(name) for name in ("usage_date", "actor_type")),
        *(CLAUDE_CODE_USERS_SCHEMA.field(name) for name in ("email", "api_key_name")),
        CLAUDE_CODE_USERS_SCHEMA.field("is_remote"),
        pa.field("model", pa.string(), nullable=False),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("cache_read_tokens", pa.int64()),
        pa.field("cache_creation_tokens", pa.int64()),
        # An estimate by Anthropic's list prices, never billed cost.
        pa.field("estimated_cost_usd", USD),
        pa.field("currency", pa.string()),
        pa.field("pulled_at", _TIMESTAMP, nullable=False),
    ]
)
# Enterprise Analytics `/users`: column -> the path of its count in a record (§1.5; the
# cowork counts as the emulator and spec §5 name them).
_CORE = ("claude_code_metrics", "core_metrics")
ENTERPRISE_USER_COUNTS = {
    "chat_distinct_conversation_count": ("chat_metrics", "distinct_conversation_count"),
    "chat_message_count": ("chat_metrics", "message_count"),
    "claude_code_commit_count": (*_CORE, "commit_count"),
    "claude_code_distinct_session_count": (*_CORE, "distinct_session_count"),
    "claude_code_lines_added_count": (*_CORE, "lines_of_code", "added_count"),
    "claude_code_lines_removed_count": (*_CORE, "lines_of_code", "removed_count"),
    "claude_code_pull_request_count": (*_CORE, "pull_request_count"),
    **{
        f"cowork_{name}": ("cowork_metrics", name)
        for name in (
            "action_count",
            "connectors_used_count",
            "dispatch_turn_count",
            "distinct_session_count",
            "file_edit_count",
            "message_count",
            "skills_used_count",
        )
    },
}
ENTERPRISE_USERS_SCHEMA = pa.schema(
    [
        pa.field("usage_date", pa.date32(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("email", pa.string()),
        *(pa.field(name, pa.int64()) for name in ENTERPRISE_USER_COUNTS),
        # A map of tool -> {accepted_count, rejected_count}: tools may be added (§1.5).
        pa.field("claude_code_tool_actions_json", pa.string()),
        pa.field("pulled_at", _TIMESTAMP, nullable=False),
    ]
)
# Enterprise Analytics `/summaries`: the counts every day carries, then those it carries
# once the per-product breakdown is enabled, and seats and invites (null when scoped to an
# RBAC group).
SUMMARY_COUNTS = tuple(
    f"{product}{window}_active_user_count"
    for product in ("", "cowork_")
    for window in ("daily", "weekly", "monthly")
)
SUMMARY_OPTIONAL_COUNTS = (
    *(f"claude_code_{window}_active_user_count" for window in ("daily", "weekly", "monthly")),
    "assigned_seat_count",
    "pending_invite_count",
)
ENTERPRISE_SUMMARIES_SCHEMA = pa.schema(
    [
        pa.field("usage_date", pa.date32(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in SUMMARY_COUNTS),
        *(pa.field(name, pa.int64()) for name in SUMMARY_OPTIONAL_COUNTS),
        pa.field("pulled_at", _TIMESTAMP, nullable=False),
    ]
)

# The landed reports, each a folder of day files under landing/billing/, and their schemas.
# A report's first column is the UTC day its files are partitioned by.
REPORT_SCHEMAS = {
    "cost_totals": COST_TOTALS_SCHEMA,
    "cost_breakdown": COST_BREAKDOWN_SCHEMA,
    "claude_code_users": CLAUDE_CODE_USERS_SCHEMA,
    "claude_code_models": CLAUDE_CODE_MODELS_SCHEMA,
    "enterprise_users": ENTERPRISE_USERS_SCHEMA,
    "enterprise_summaries": ENTERPRISE_SUMMARIES_SCHEMA,
}
REPORTS = tuple(REPORT_SCHEMAS)


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedRecord(f"{name} is {describe(value)}, not an object")
    return value


def _text(record: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedRecord(f"{name} is {describe(value)}, not a string")
    return valid_unicode(value, name)


def _count(
    record: dict[str, Any], name: str, *, label: str = "", required: bool = False
) -> int | None:
    """A non-negative integer, or None when absent and not required.

    Args:
        record: the JSON object holding it.
        name: its key.
        label: where the object is in the record (`cowork_metrics.`), for the reason.
        required: absent is malformed.
    """
    value = record.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedRecord(f"{label}{name} is {describe(value)}, not a count")
    if value < 0:
        raise MalformedRecord(f"{label}{name} is negative ({value}), not a count")
    return value


def day_bucket(record: dict[str, Any]) -> tuple[date, datetime]:
    """The UTC day of a one-day bucket, and its start.

    Raises:
        MalformedRecord: no bucket times, or a bucket that is not one whole UTC day.
    """
    start = parse_timestamp(_text(record, "starting_at", required=True), "starting_at")
    end = parse_timestamp(_text(record, "ending_at", required=True), "ending_at")
    if end - start != timedelta(days=1) or start.time() != datetime.min.time():
        raise MalformedRecord(
            f"the bucket {start.isoformat()} to {end.isoformat()} is not one UTC day"
        )
    return start.date(), start


def _money(cost: dict[str, Any], name: str, label: str) -> Decimal | None:
    value = cost.get(name)
    return None if value is None else cents_to_usd(value, f"{label}.{name}")


def _currency(record: dict[str, Any]) -> str:
    currency = _text(record, "currency") or "USD"
    if currency != "USD":  # every documented amount is USD: another would need rates
        raise MalformedRecord(f"currency {currency[:10]!r} is not USD")
    return currency


def beta_cost_row(item: object, provenance: dict[str, Any]) -> dict[str, Any]:
    """A row of `/v1/organizations/analytics/cost` with `time_bucket_width=1d`.

    Ungrouped rows are the day's totals; grouped ones (`group`) a breakdown.
    """
    record = _object(item, "record")
    cost_date, _ = day_bucket(record)
    cost = _object(record.get("cost"), "cost")
    amount = _money(cost, "amount", "cost")
    if amount is None:
        raise MalformedRecord("cost.amount is missing")
    group = _object(record.get("group") or {}, "group")
    return {
        "cost_date": cost_date,
        **{name: _text(group, name) for name in BREAKDOWN_DIMENSIONS},
        "description": None,
        "amount_usd": amount,
        "list_amount_usd": _money(cost, "list_amount", "cost"),
        "currency": _currency(cost),
        "requests": _count(cost, "requests"),
        **provenance,
    }


def legacy_cost_rows(item: object, provenance: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one day bucket of `/v1/organizations/cost_report` (one per result)."""
    bucket = _object(item, "bucket")
    cost_date, _ = day_bucket(bucket)
    results = bucket.get("results")
    if not isinstance(results, list):
        raise MalformedRecord(f"results is {describe(results)}, not a list")
    rows = []
    for index, result in enumerate(results):
        result = _object(result, f"results[{index}]")
        amount = _money(result, "amount", f"results[{index}]")
        if amount is None:
            raise MalformedRecord(f"results[{index}].amount is missing")
        rows.append(
            {
                "cost_date": cost_date,
                **{name: _text(result, name) for name in BREAKDOWN_DIMENSIONS},
                "description": _text(result, "description"),
                "amount_usd": amount,
                "list_amount_usd": None,  # the legacy report has no list price
                "currency": _currency(result),
                "requests": None,
                **provenance,
            }
        )
    return rows


def zero_cost_row(cost_date: date, provenance: dict[str, Any]) -> dict[str, Any]:
    """The zero total of a day the source billed nothing for.

    The beta lists no row for such a day, the legacy report an empty bucket: a zero row
    says the day was pulled, and replaces what an earlier pull landed for it.
    """
    return {
        "cost_date": cost_date,
        "amount_usd": Decimal(0),
        "list_amount_usd": Decimal(0),
        "currency": "USD",
        "requests": 0,
        **provenance,
    }


def claude_code_rows(
    item: object, usage_date: date, pulled_at: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One Claude Code Analytics record: its user-day row and one row per model.

    `estimated_cost.amount` is a JSON number in cents (read as a Decimal by the client).
    """
    record = _object(item, "record")
    day = parse_timestamp(_text(record, "date", required=True), "date")
    if day.date() != usage_date or day.time() != datetime.min.time():
        raise MalformedRecord(f"date {day.isoformat()} is not the requested day {usage_date}")
    actor = _object(record.get("actor"), "actor")
    actor_type = _text(actor, "type", required=True)
    who = {
        "usage_date": usage_date,
        "actor_type": actor_type,
        "email": _text(actor, "email_address"),
        "api_key_name": _text(actor, "api_key_name"),
        "is_remote": _flag(record, "is_remote"),
    }
    if who["email"] is None and who["api_key_name"] is None:
        raise MalformedRecord("actor has neither email_address nor api_key_name")
    core = _object(record.get("core_metrics") or {}, "core_metrics")
    lines = _object(core.get("lines_of_code") or {}, "core_metrics.lines_of_code")
    user = {
        **who,
        "organization_id": _text(record, "organization_id"),
        "customer_type": _text(record, "customer_type"),
        "subscription_type": _text(record, "subscription_type"),
        "terminal_type": _text(record, "terminal_type"),
        "sessions": _count(core, "num_sessions"),
        "lines_added": _count(lines, "added"),
        "lines_removed": _count(lines, "removed"),
        "commits": _count(core, "commits_by_claude_code"),
        "pull_requests": _count(core, "pull_requests_by_claude_code"),
        # A map: tools beyond the documented four may appear (§1.4).
        "edits_accepted": _decisions(record.get("tool_actions"), "accepted"),
        "edits_rejected": _decisions(record.get("tool_actions"), "rejected"),
        "tool_actions_json": _tool_actions(record.get("tool_actions"), "tool_actions"),
        "pulled_at": pulled_at,
    }
    breakdown = record.get("model_breakdown") or []
    if not isinstance(breakdown, list):
        raise MalformedRecord(f"model_breakdown is {describe(breakdown)}, not a list")
    models = []
    for index, entry in enumerate(breakdown):
        name = f"model_breakdown[{index}]"
        entry = _object(entry, name)
        tokens = _object(entry.get("tokens") or {}, f"{name}.tokens")
        estimate = _object(entry.get("estimated_cost") or {}, f"{name}.estimated_cost")
        models.append(
            {
                **who,
                "model": _text(entry, "model", required=True),
                "input_tokens": _count(tokens, "input"),
                "output_tokens": _count(tokens, "output"),
                "cache_read_tokens": _count(tokens, "cache_read"),
                "cache_creation_tokens": _count(tokens, "cache_creation"),
                "estimated_cost_usd": _money(estimate, "amount", f"{name}.estimated_cost"),
                "currency": _currency(estimate) if estimate else None,
                "pulled_at": pulled_at,
            }
        )
    return user, models


def _tool_actions(value: object, name: str) -> str:
    """A map of tool -> decision counts as sorted JSON text (every count checked)."""
    tools = _object(value or {}, name)
    for tool, decisions in tools.items():
        decisions = _object(decisions, f"{name}.{tool[:40]}")
        for decision in decisions:
            _count(decisions, decision, label=f"{name}.{tool[:40]}.")
    return json_text(tools, name, sort_keys=True)


def _decisions(tools: dict[str, dict[str, int]] | None, decision: str) -> int:
    """One decision's count over every tool of a (checked) `tool_actions` map."""
    return sum(decisions.get(decision) or 0 for decisions in (tools or {}).values())


def _block(record: dict[str, Any], *path: str) -> dict[str, Any] | None:
    """The JSON object at `path` (keys), or None when it or an object above it is absent."""
    for depth, name in enumerate(path):
        value = record.get(name)
        if value is None:
            return None
        record = _object(value, ".".join(path[: depth + 1]))
    return record


def _count_at(record: dict[str, Any], path: tuple[str, ...]) -> int | None:
    """The count at `path` (keys), or None when it or an object above it is absent."""
    *blocks, name = path
    block = _block(record, *blocks)
    return None if block is None else _count(block, name, label="".join(f"{b}." for b in blocks))


def enterprise_user_row(item: object, usage_date: date, pulled_at: datetime) -> dict[str, Any]:
    """One record of `/v1/organizations/analytics/users` asked for one `date`.

    Its metric blocks are flattened: a block or count the record does not carry is null
    (a product the organisation does not use), one that is not a non-negative integer is
    malformed.
    """
    record = _object(item, "record")
    if record.get("date") is not None:
        day = _text(record, "date")
        if day != usage_date.isoformat():
            raise MalformedRecord(f"date {day[:20]!r} is not the requested day {usage_date}")
    user = _object(record.get("user"), "user")
    code = _block(record, "claude_code_metrics") or {}
    tool_actions = code.get("tool_actions")
    return {
        "usage_date": usage_date,
        "user_id": _text(user, "id", required=True),
        "email": _text(user, "email_address"),
        **{name: _count_at(record, path) for name, path in ENTERPRISE_USER_COUNTS.items()},
        "claude_code_tool_actions_json": None
        if tool_actions is None
        else _tool_actions(tool_actions, "claude_code_metrics.tool_actions"),
        "pulled_at": pulled_at,
    }


def enterprise_summary_row(item: object, pulled_at: datetime) -> dict[str, Any]:
    """One day of `/v1/organizations/analytics/summaries` (`starting_at`..`ending_at`)."""
    record = _object(item, "record")
    usage_date, _ = day_bucket(record)
    return {
        "usage_date": usage_date,
        **{name: _count(record, name, required=True) for name in SUMMARY_COUNTS},
        **{name: _count(record, name) for name in SUMMARY_OPTIONAL_COUNTS},
        "pulled_at": pulled_at,
    }


def _flag(record: dict[str, Any], name: str) -> bool:
    value = record.get(name, False)
    if not isinstance(value, bool):
        raise MalformedRecord(f"{name} is {describe(value)}, not true or false")
    return value


def refreshed_at(body: dict[str, Any]) -> datetime | None:
    """A page's `data_refreshed_at`, when it carries a valid one."""
    value = body.get("data_refreshed_at")
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value, "data_refreshed_at")
    except MalformedRecord:
        return None


def utc_midnight(day: date) -> datetime:
    """The start of a UTC day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
