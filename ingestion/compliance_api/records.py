"""Compliance API records to landed rows, or the reason a record cannot land.

A record lands only if every value it gives a typed column is of that type (or null), its
identifying field is a non-empty string, its timestamps are RFC 3339 with an offset, and
its text is valid Unicode; anything else raises MalformedRecord and the record is
quarantined, never coerced. An activity's `created_at` must also lie between 2020 and two
days after the pull (the OTel landing's window): one record from the year 9999 would
otherwise become the watermark and every later pull would ask for nothing. Snapshot
timestamps have no window (they move no watermark), but must be castable, as staging casts
them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from ingestion.anthropic_api.records import (
    MalformedRecord,
    describe,
    json_text,
    parse_timestamp,
    valid_unicode,
)
from ingestion.compliance_api.schemas import (
    ACTOR_FIELDS,
    ENVELOPE,
    SNAPSHOT_KEYS,
    SNAPSHOT_SCHEMAS,
)

EARLIEST_ACTIVITY = datetime(2020, 1, 1, tzinfo=UTC)  # Claude's audit log postdates it
FUTURE_SLACK = timedelta(days=2)  # clocks differ; days are generous, a year is not
OWNED = ("sessions", "chats", "projects")  # records carrying `user {id, email_address}`


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedRecord(f"{name} is {describe(value)}, not an object")
    return value


def _optional_object(value: object, name: str) -> dict[str, Any]:
    return {} if value is None else _object(value, name)


def _text(record: dict[str, Any], name: str, label: str | None = None) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"{label or name} is {describe(value)}, not a string")
    return valid_unicode(value, label or name)


def _key(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise MalformedRecord(f"{name} is missing")
    value = _text(record, name)
    if value is None:
        raise MalformedRecord(f"{name} is null")
    if not value.strip():
        raise MalformedRecord(f"{name} is empty")
    return value


def _timestamp(record: dict[str, Any], name: str) -> datetime | None:
    value = _text(record, name)
    return None if value is None else parse_timestamp(value, name)


def activity_row(record: object, landed_at: datetime, latest: datetime) -> dict[str, Any]:
    """The landed row of an activity: the typed envelope, the rest kept as JSON.

    Args:
        record: one element of a page's `data`.
        landed_at: when this page lands.
        latest: the newest `created_at` believed (the pull's time plus FUTURE_SLACK).

    Raises:
        MalformedRecord: the record cannot land; the message is why.
    """
    record = _object(record, "record")
    activity_id = _key(record, "id")
    if "created_at" not in record:
        raise MalformedRecord("created_at is missing")
    created = _timestamp(record, "created_at")
    if created is None:
        raise MalformedRecord("created_at is null")
    if created < EARLIEST_ACTIVITY:
        raise MalformedRecord(
            f"created_at {created.isoformat()} is before {EARLIEST_ACTIVITY.year}"
        )
    if created > latest:
        raise MalformedRecord(f"created_at {created.isoformat()} is after {latest.isoformat()}")
    actor = _optional_object(record.get("actor"), "actor")
    details = {key: value for key, value in record.items() if key not in ENVELOPE}
    return {
        "activity_id": activity_id,
        "created_at": created,
        "created_date": created.date(),
        "organization_id": _text(record, "organization_id"),
        "organization_uuid": _text(record, "organization_uuid"),
        "activity_type": _text(record, "type"),
        "actor_type": _text(actor, "type", "actor.type"),
        **{f"actor_{name}": _text(actor, name, f"actor.{name}") for name in ACTOR_FIELDS},
        "actor_json": json_text(actor, "actor", sort_keys=True),
        "details_json": json_text(details, "a type-specific field", sort_keys=True),
        "landed_at": landed_at,
    }


def _snapshot_value(row: dict[str, Any], field: pa.Field) -> object:
    if pa.types.is_boolean(field.type):
        value = row.get(field.name)
        if value is not None and not isinstance(value, bool):
            raise MalformedRecord(f"{field.name} is {describe(value)}, not true or false")
        return value
    if field.name.endswith("_at"):
        _timestamp(row, field.name)
    return _text(row, field.name)


def snapshot_row(entity: str, record: object, context: dict[str, str] | None = None) -> dict:
    """The landed row of a snapshot record: the entity's documented fields, typed.

    Args:
        entity: a key of SNAPSHOT_SCHEMAS.
        record: one element of a page's `data`.
        context: fields the listing implies (the organisation of a user, the group of a
            member); they override the record's.

    Raises:
        MalformedRecord: the record cannot land; the message is why.
    """
    record = _object(record, "record")
    _key(record, SNAPSHOT_KEYS[entity])
    row = {**record, **(context or {})}
    if entity == "groups":
        row["roles"] = json_text(record.get("roles", []), "roles")
    if entity in OWNED:
        owner = _optional_object(record.get("user"), "user")
        row["user_id"] = _text(owner, "id", "user.id")
        row["user_email"] = _text(owner, "email_address", "user.email_address")
    if entity == "sessions":
        row["session_id"] = record["id"]
    schema = SNAPSHOT_SCHEMAS[entity]
    return {
        field.name: _snapshot_value(row, field) for field in schema if field.name != "snapshot_at"
    }
