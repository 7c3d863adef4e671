"""Pull the Compliance API into Parquet.

The activity feed lands incrementally, the directory as dated snapshots, local sessions as
metadata. State (the activity watermark and an in-progress page cursor) lives in the manifest store
and is committed only after a page's Parquet is durable, so a crash resumes from the last
committed page: no gap, and at most one page landed twice (staging deduplicates on `id`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.compliance_api.client import ComplianceApiError, ComplianceClient
from ingestion.compliance_api.schemas import SNAPSHOT_SCHEMAS
from ingestion.crash import crash_point
from ingestion.manifest import Manifest
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
ACTIVITY_PAGE_LIMIT = 5000  # the documented maximum: fewest requests from the shared budget
OVERLAP = timedelta(minutes=10)
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


@dataclass
class PullSummary:
    """Records landed per entity, and what the requests cost."""

    records: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view (never contains the key)."""
        return {
            **{f"records.{name}": count for name, count in sorted(self.records.items())},
            "requests": self.requests,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 2),
        }


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def activities_table(records: list[dict], landed_at: datetime) -> pa.Table:
    """The typed envelope of activity records; type-specific fields kept as JSON."""
    rows = []
    for record in records:
        actor = record.get("actor") or {}
        created = _parse_time(record["created_at"])
        rows.append(
            {
                "activity_id": record["id"],
                "created_at": created,
                "created_date": created.date(),
                "organization_id": record.get("organization_id"),
                "organization_uuid": record.get("organization_uuid"),
                "activity_type": record.get("type"),
                "actor_type": actor.get("type"),
                **{f"actor_{name}": actor.get(name) for name in ACTOR_FIELDS},
                "actor_json": json.dumps(actor, sort_keys=True),
                "details_json": json.dumps(
                    {k: v for k, v in record.items() if k not in ENVELOPE}, sort_keys=True
                ),
                "landed_at": landed_at,
            }
        )
    return pa.Table.from_pylist(rows, schema=ACTIVITIES_SCHEMA)


def _ids_landed_elsewhere(layout: DataLayout, days: list, name: str) -> set[str]:
    """Activity ids already landed on these days by other pages than `name`."""
    seen: set[str] = set()
    for day in days:
        partition = layout.compliance("activities") / f"created_date={day}"
        for path in partition.glob("*.parquet") if partition.exists() else []:
            if path.name != name:
                seen.update(pq.read_table(path, columns=["activity_id"]).column(0).to_pylist())
    return seen


def _land_page(layout: DataLayout, records: list[dict]) -> int:
    """Write one page durably, partitioned by UTC created date, under deterministic names.

    Records landed before by another page (the overlap window of an incremental run) are
    left out, so the landing itself holds each activity once; a page fetched again after a
    crash keeps its name and replaces its own file.
    """
    if not records:
        return 0
    name = f"page-{records[0]['id']}-{records[-1]['id']}.parquet"
    table = activities_table(records, datetime.now(UTC))
    days = pc.unique(table.column("created_date")).to_pylist()
    seen = _ids_landed_elsewhere(layout, days, name)
    if seen:
        table = table.filter(
            pc.invert(pc.is_in(table.column("activity_id"), pa.array(sorted(seen))))
        )
    dates = table.column("created_date")
    for day in days:
        part = table.filter(pc.equal(dates, pa.scalar(day, pa.date32())))
        if part.num_rows:
            write_parquet_atomically(
                part, layout.compliance("activities") / f"created_date={day}" / name
            )
    return table.num_rows


def pull_activities(
    client: ComplianceClient,
    layout: DataLayout,
    manifest: Manifest,
    *,
    backfill_days: int = 30,
    now: datetime | None = None,
    on_page: Callable[[int], None] | None = None,
) -> int:
    """Land activities newer than the watermark (or the back-fill window on a first run).

    Pages go newest to oldest (`after_id` = the last id of a page) down to the window's
    lower bound. After each durable page the cursor is committed; when the window is done,
    the watermark moves to the newest record seen. A rejected cursor falls back to the
    window from the last watermark (overlapping pages dedupe on `id` downstream).

    Returns:
        Records landed.
    """
    state = manifest.get_state("compliance.activities") or {}
    landed = 0
    while True:
        progress = state.get("in_progress")
        if progress is None:
            watermark = state.get("watermark")
            lower = (
                _parse_time(watermark["created_at"]) - OVERLAP
                if watermark
                else (now or datetime.now(UTC)) - timedelta(days=backfill_days)
            )
            progress = {"gte": _rfc3339(lower), "after_id": None, "top": None}
        try:
            page = client.get(
                "/v1/compliance/activities",
                {
                    "limit": ACTIVITY_PAGE_LIMIT,
                    "created_at.gte": progress["gte"],
                    "after_id": progress["after_id"],
                },
            )
        except ComplianceApiError as error:
            if error.status == 400 and progress["after_id"]:
                LOGGER.warning("activity cursor rejected; re-pulling the window from the watermark")
                state = {"watermark": state.get("watermark")}
                manifest.set_state("compliance.activities", state)
                continue
            raise
        records = page.get("data", [])
        landed += _land_page(layout, records)
        crash_point("after_activity_page_landed")
        if on_page:
            on_page(len(records))
        top = progress["top"] or (
            {"id": records[0]["id"], "created_at": records[0]["created_at"]} if records else None
        )
        if page.get("has_more") and records:
            state = {
                "watermark": state.get("watermark"),
                "in_progress": {"gte": progress["gte"], "after_id": page["last_id"], "top": top},
            }
            manifest.set_state("compliance.activities", state)
            continue
        state = {"watermark": top or state.get("watermark")}
        manifest.set_state("compliance.activities", state)
        return landed


def _all_pages(client: ComplianceClient, path: str, limit: int) -> list[dict]:
    """Every record of a page-token endpoint; stops on a null `next_page`."""
    records, token = [], None
    while True:
        page = client.get(path, {"limit": limit, "page": token})
        records += page.get("data", [])
        token = page.get("next_page")
        if not token or page.get("has_more") is False:
            return records


def _snapshot(
    layout: DataLayout, entity: str, records: list[dict], taken_at: datetime, **context: str
) -> int:
    schema = SNAPSHOT_SCHEMAS[entity]
    rows = [{**record, **context, "snapshot_at": taken_at} for record in records]
    if not rows:
        return 0
    # Only the documented fields are kept, typed by an explicit schema.
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in schema.names} for row in rows], schema
    )
    # One snapshot per day per entity: a rerun the same day replaces it; other days stay,
    # so the history of the directory (who was in which team when) is kept.
    target = layout.compliance(entity) / f"snapshot_date={taken_at.date()}" / "snapshot.parquet"
    write_parquet_atomically(table, target)
    return len(rows)


def pull_directory(client: ComplianceClient, layout: DataLayout, summary: PullSummary) -> None:
    """Dated snapshots of organisations, users, roles, groups and group members."""
    taken_at = datetime.now(UTC)
    organizations = _all_pages(client, "/v1/compliance/organizations", 100)
    summary.records["organizations"] = _snapshot(layout, "organizations", organizations, taken_at)
    users, roles = [], []
    for organization in organizations:
        base = f"/v1/compliance/organizations/{organization['uuid']}"
        users += [
            {**u, "organization_uuid": organization["uuid"]}
            for u in _all_pages(client, f"{base}/users", 1000)
        ]
        roles += [
            {**r, "organization_uuid": organization["uuid"]}
            for r in _all_pages(client, f"{base}/roles", 1000)
        ]
    summary.records["users"] = _snapshot(layout, "users", users, taken_at)
    summary.records["roles"] = _snapshot(layout, "roles", roles, taken_at)
    groups = _all_pages(client, "/v1/compliance/groups", 1000)
    summary.records["groups"] = _snapshot(
        layout, "groups", [{**g, "roles": json.dumps(g.get("roles", []))} for g in groups], taken_at
    )
    members = []
    for group in groups:
        members += [
            {**m, "group_id": group["id"]}
            for m in _all_pages(client, f"/v1/compliance/groups/{group['id']}/members", 1000)
        ]
    summary.records["members"] = _snapshot(layout, "members", members, taken_at)


def _with_owner(records: list[dict]) -> list[dict]:
    """Flatten the API's `user {id, email_address}` into `user_id` / `user_email`."""
    return [
        {
            **record,
            "user_id": (record.get("user") or {}).get("id"),
            "user_email": (record.get("user") or {}).get("email_address"),
        }
        for record in records
    ]


def pull_local_sessions(client: ComplianceClient, layout: DataLayout, summary: PullSummary) -> None:
    """Local (Cowork / Claude Code) session metadata; never any message content."""
    sessions = _all_pages(client, "/v1/compliance/apps/sessions/local", 500)
    rows = [{**record, "session_id": record["id"]} for record in _with_owner(sessions)]
    summary.records["sessions"] = _snapshot(layout, "sessions", rows, datetime.now(UTC))


def pull_chats_and_projects(
    client: ComplianceClient, layout: DataLayout, summary: PullSummary
) -> None:
    """Chat and project metadata (ids, owners, timestamps, model); never message content.

    Only the columns of the entity's snapshot schema are kept (see `_snapshot`).
    """
    chats, after = [], None
    while True:  # the cursor scheme, oldest first: `after_id` = the page's last id
        page = client.get("/v1/compliance/apps/chats", {"limit": 1000, "after_id": after})
        chats += page.get("data", [])
        if not page.get("has_more") or not page.get("data"):
            break
        after = page["last_id"]
    summary.records["chats"] = _snapshot(layout, "chats", _with_owner(chats), datetime.now(UTC))
    projects = _all_pages(client, "/v1/compliance/apps/projects", 100)
    summary.records["projects"] = _snapshot(
        layout, "projects", _with_owner(projects), datetime.now(UTC)
    )


def pull_compliance(
    client: ComplianceClient,
    layout: DataLayout,
    *,
    backfill_days: int = 30,
    on_page: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> PullSummary:
    """Pull everything: activities (incremental), directory snapshots, local sessions."""
    summary = PullSummary()
    manifest = Manifest(layout.manifest)
    try:
        summary.records["activities"] = pull_activities(
            client, layout, manifest, backfill_days=backfill_days, on_page=on_page, now=now
        )
        pull_directory(client, layout, summary)
        pull_local_sessions(client, layout, summary)
        pull_chats_and_projects(client, layout, summary)
    finally:
        manifest.close()
        summary.requests = client.stats.requests
        summary.retries = client.stats.retries
        summary.waited_seconds = client.stats.waited_seconds
    return summary
