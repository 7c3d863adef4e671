"""Record checks: what lands typed, and the reason for what does not."""

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ingestion.anthropic_api.records import MalformedRecord
from ingestion.compliance_api.records import (
    activity_row,
    parse_timestamp,
    snapshot_row,
)
from ingestion.compliance_api.schemas import ACTIVITIES_SCHEMA, SNAPSHOT_SCHEMAS
from tests.support.hostile_api import activity

LANDED_AT = datetime(2026, 3, 11, tzinfo=UTC)
LATEST = datetime(2026, 3, 13, tzinfo=UTC)


def test_a_real_activity_lands_with_its_envelope_typed() -> None:
    row = activity_row(activity(1, created_at="2026-03-10T13:59:00+02:00"), LANDED_AT, LATEST)
    table = pa.Table.from_pylist([row], schema=ACTIVITIES_SCHEMA)
    assert table.column("activity_id")[0].as_py() == "activity_0001"
    # An offset is honoured: the UTC date, not the local one.
    assert row["created_at"] == datetime(2026, 3, 10, 11, 59, tzinfo=UTC)
    assert row["actor_user_id"] == "user_0001"
    assert row["details_json"] == '{"claude_chat_id": "claude_chat_0001"}'


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        pytest.param(activity(1, id=None), "id is null", id="id null"),
        pytest.param(activity(1, id=""), "id is empty", id="id empty"),
        pytest.param(activity(1, id=12), "id is a number, not a string", id="id number"),
        pytest.param({"created_at": "2026-03-10T00:00:00Z"}, "id is missing", id="no id"),
        pytest.param({"id": "a"}, "created_at is missing", id="no created_at"),
        pytest.param(activity(1, created_at=None), "created_at is null", id="created_at null"),
        pytest.param(activity(1, created_at=[]), "created_at is a list", id="created_at list"),
        pytest.param(activity(1, created_at="2026-03-10"), "not an RFC 3339", id="date only"),
        pytest.param(activity(1, created_at="2026-02-30T00:00:00Z"), "not a real", id="30 Feb"),
        pytest.param(activity(1, created_at="1970-01-01T00:00:00Z"), "before 2020", id="1970"),
        pytest.param(activity(1, created_at="2026-03-14T00:00:00Z"), "after 2026", id="future"),
        pytest.param(activity(1, actor="user"), "actor is a string, not an object", id="actor"),
        pytest.param(activity(1, actor={"user_id": 5}), "actor.user_id is a number", id="nested"),
        pytest.param(activity(1, type=True), "type is a boolean", id="type boolean"),
        pytest.param(activity(1, type="\udc80"), "type is not valid Unicode", id="surrogate"),
        pytest.param(activity(1, extra="\ud83d"), "not valid Unicode", id="surrogate in details"),
        pytest.param(activity(1, extra=float("inf")), "non-finite", id="infinity in details"),
        pytest.param(["activity"], "record is a list, not an object", id="a list"),
        pytest.param(None, "record is null, not an object", id="null"),
    ],
)
def test_a_malformed_activity_is_refused_with_its_reason(record: object, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason.replace("(", r"\(")):
        activity_row(record, LANDED_AT, LATEST)


def test_unicode_that_is_merely_unusual_lands() -> None:
    # A surrogate pair escaped in JSON is one character (an emoji), not a lone surrogate.
    details = json.loads('{"emoji": "\\ud83d\\ude00"}')
    row = activity_row(activity(1, type="é\u202e😀\x00", **details), LANDED_AT, LATEST)
    assert row["activity_type"] == "é\u202e😀\x00"
    assert json.loads(row["details_json"])["emoji"] == "😀"


@pytest.mark.parametrize(
    ("entity", "record", "context", "expected"),
    [
        pytest.param(
            "users",
            {"id": "user_1", "email": "a@example.com", "extra": [1]},
            {"organization_uuid": "org"},
            {"id": "user_1", "email": "a@example.com", "organization_uuid": "org"},
            id="users: undocumented fields dropped, context added",
        ),
        pytest.param(
            "sessions",
            {"id": "local_1", "user": {"id": "user_1", "email_address": "a@example.com"}},
            None,
            {"session_id": "local_1", "user_id": "user_1", "user_email": "a@example.com"},
            id="sessions: owner flattened",
        ),
        pytest.param(
            "groups",
            {"id": "g", "roles": [{"name": "x"}]},
            None,
            {"id": "g", "roles": '[{"name": "x"}]'},
            id="groups: roles as JSON",
        ),
    ],
)
def test_a_snapshot_record_lands_as_its_schema(entity, record, context, expected) -> None:
    row = snapshot_row(entity, record, context)
    assert set(row) == set(SNAPSHOT_SCHEMAS[entity].names) - {"snapshot_at"}
    assert {key: row[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("entity", "record", "reason"),
    [
        pytest.param("organizations", {"name": "x"}, "uuid is missing", id="no uuid"),
        pytest.param("members", {"user_id": None}, "user_id is null", id="member"),
        pytest.param("users", {"id": "u", "email": 3}, "email is a number", id="email number"),
        pytest.param("users", {"id": "u", "created_at": "soon"}, "not an RFC 3339", id="time"),
        pytest.param("chats", {"id": "c", "user": []}, "user is a list", id="owner list"),
        pytest.param("chats", {"id": "c", "user": {"id": 1}}, "user.id is a number", id="owner"),
        pytest.param("projects", {"id": "p", "is_private": 1}, "not true or false", id="bool"),
        pytest.param("groups", {"id": "g", "roles": [float("nan")]}, "non-finite", id="roles"),
        pytest.param("sessions", "local_1", "record is a string", id="not an object"),
    ],
)
def test_a_malformed_snapshot_record_is_refused(entity: str, record: object, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        snapshot_row(entity, record)


@pytest.mark.parametrize(
    "value",
    ["2026-03-10T10:00:00Z", "2026-03-10 10:00:00.123456789+05:30", "2026-03-10T10:00:00-00:00"],
)
def test_rfc_3339_timestamps_parse_in_utc(value: str) -> None:
    assert parse_timestamp(value, "t").tzinfo == UTC
