"""Explicit Arrow schemas of the landed Compliance API records, so every landed file agrees."""

from __future__ import annotations

import pyarrow as pa

# The activity envelope, typed; the rest of a record is kept as JSON (`details_json`).
ENVELOPE = ("id", "created_at", "organization_id", "organization_uuid", "type", "actor")
ACTOR_FIELDS = (
    "user_id",
    "email_address",
    "ip_address",
    "user_agent",
    "api_key_id",
    "admin_api_key_id",
    "service_account_id",
    "unauthenticated_email_address",
)
ACTIVITIES_SCHEMA = pa.schema(
    [
        pa.field("activity_id", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("created_date", pa.date32()),
        pa.field("organization_id", pa.string()),
        pa.field("organization_uuid", pa.string()),
        pa.field("activity_type", pa.string()),
        pa.field("actor_type", pa.string()),
        *(pa.field(f"actor_{name}", pa.string()) for name in ACTOR_FIELDS),
        pa.field("actor_json", pa.string()),
        pa.field("details_json", pa.string()),
        pa.field("landed_at", pa.timestamp("us", tz="UTC")),
    ]
)

# Snapshot timestamps stay RFC 3339 strings as the API sends them; staging casts them.
_TIMES = ("created_at", "updated_at", "deleted_at")
_OWNER = ("user_id", "user_email")  # flattened from the API's `user {id, email_address}`


def _snapshot_schema(*columns: str, **typed: pa.DataType) -> pa.Schema:
    """Text columns in order (typed ones where named), then when the snapshot was taken."""
    fields = [pa.field(name, typed.get(name, pa.string())) for name in columns]
    return pa.schema([*fields, pa.field("snapshot_at", pa.timestamp("us", tz="UTC"))])


SNAPSHOT_SCHEMAS = {
    "organizations": _snapshot_schema("uuid", "id", "name", "created_at"),
    "users": _snapshot_schema(
        "id", "full_name", "email", "organization_role", "created_at", "organization_uuid"
    ),
    "roles": _snapshot_schema("id", "name", "description", *_TIMES[:2], "organization_uuid"),
    "groups": _snapshot_schema("id", "name", "description", "source_type", "roles", *_TIMES[:2]),
    "members": _snapshot_schema("user_id", "email", *_TIMES[:2], "group_id"),
    "sessions": _snapshot_schema(
        "session_id", "organization_uuid", "workspace_id", *_OWNER, "product_surface", "created_at"
    ),
    "chats": _snapshot_schema(
        "id", "name", *_TIMES, "organization_uuid", "model", "project_id", *_OWNER
    ),
    "projects": _snapshot_schema(
        "id", "name", *_TIMES, "organization_uuid", "is_private", *_OWNER, is_private=pa.bool_()
    ),
}

# The field that identifies a snapshot record (a record without it is quarantined).
SNAPSHOT_KEYS = {
    "organizations": "uuid",
    "users": "id",
    "roles": "id",
    "groups": "id",
    "members": "user_id",
    "sessions": "id",
    "chats": "id",
    "projects": "id",
}
