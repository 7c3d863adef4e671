"""Explicit Arrow schemas of the Compliance API snapshots, so every landed file agrees."""

from __future__ import annotations

import pyarrow as pa

_TIME = pa.string()  # RFC 3339 as the API sends it; staging casts
_SNAPSHOT_AT = pa.field("snapshot_at", pa.timestamp("us", tz="UTC"))

SNAPSHOT_SCHEMAS = {
    "organizations": pa.schema(
        [
            ("uuid", pa.string()),
            ("id", pa.string()),
            ("name", pa.string()),
            ("created_at", _TIME),
            _SNAPSHOT_AT,
        ]
    ),
    "users": pa.schema(
        [
            ("id", pa.string()),
            ("full_name", pa.string()),
            ("email", pa.string()),
            ("organization_role", pa.string()),
            ("created_at", _TIME),
            ("organization_uuid", pa.string()),
            _SNAPSHOT_AT,
        ]
    ),
    "roles": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("created_at", _TIME),
            ("updated_at", _TIME),
            ("organization_uuid", pa.string()),
            _SNAPSHOT_AT,
        ]
    ),
    "groups": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("description", pa.string()),
            ("source_type", pa.string()),
            ("roles", pa.string()),
            ("created_at", _TIME),
            ("updated_at", _TIME),
            _SNAPSHOT_AT,
        ]
    ),
    "members": pa.schema(
        [
            ("user_id", pa.string()),
            ("email", pa.string()),
            ("created_at", _TIME),
            ("updated_at", _TIME),
            ("group_id", pa.string()),
            _SNAPSHOT_AT,
        ]
    ),
    "sessions": pa.schema(
        [
            ("session_id", pa.string()),
            ("organization_uuid", pa.string()),
            ("workspace_id", pa.string()),
            ("user_id", pa.string()),
            ("user_email", pa.string()),
            ("product_surface", pa.string()),
            ("created_at", _TIME),
            _SNAPSHOT_AT,
        ]
    ),
    "chats": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("created_at", _TIME),
            ("updated_at", _TIME),
            ("deleted_at", _TIME),
            ("organization_uuid", pa.string()),
            ("model", pa.string()),
            ("project_id", pa.string()),
            ("user_id", pa.string()),
            ("user_email", pa.string()),
            _SNAPSHOT_AT,
        ]
    ),
    "projects": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("created_at", _TIME),
            ("updated_at", _TIME),
            ("deleted_at", _TIME),
            ("organization_uuid", pa.string()),
            ("is_private", pa.bool_()),
            ("user_id", pa.string()),
            ("user_email", pa.string()),
            _SNAPSHOT_AT,
        ]
    ),
}
