"""Pull the Compliance API into Parquet.

The activity feed lands incrementally, the directory as dated snapshots, local sessions as
metadata. State (the activity watermark and an in-progress page cursor) lives in the manifest store
and is committed only after a page's Parquet is durable, so a crash resumes from the last
committed page: no gap, and at most one page landed twice (staging deduplicates on `id`).

A pull stops on its own: a repeated cursor or page token, the page limit and the pull's
deadline end it with a AnthropicApiError naming the endpoint (the committed cursor stays
at the last good page), and a malformed record is quarantined and counted while the pull
goes on (see `quarantine`).

Records of forgotten people (the erasure register) are dropped before each write and
counted (`PullSummary.erased`); other people's activities about them keep the row with the
mention replaced by `[erased]`. Each write holds the register's shared lock, so no erasure
runs between the register check and the write. With `keep_days` (COWORK_RAW_RETENTION_DAYS)
no activity older than the landing keeps is fetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.anthropic_api.paging import (
    Page,
    PageGuard,
    PullLimits,
    cursor_pages,
    page_items,
    token_pages,
)
from ingestion.anthropic_api.quarantine import Quarantine
from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.records import FUTURE_SLACK, activity_row, snapshot_row
from ingestion.compliance_api.schemas import ACTIVITIES_SCHEMA, SNAPSHOT_SCHEMAS
from ingestion.crash import crash_point
from ingestion.erasure_register import (
    COMPLIANCE_MENTION_COLUMNS,
    COMPLIANCE_STRONG_COLUMNS,
    COMPLIANCE_USERS_STRONG_COLUMNS,
    RegisterGuard,
)
from ingestion.manifest import Manifest
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
ACTIVITIES_PATH = "/v1/compliance/activities"
ACTIVITY_PAGE_LIMIT = 5000  # the documented maximum: fewest requests from the shared budget
OVERLAP = timedelta(minutes=10)
_SAFE_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")


@dataclass
class PullSummary:
    """Records landed and quarantined per entity, and what the requests cost."""

    records: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    # Records of forgotten people dropped (landed and quarantined alike), per entity.
    erased: dict[str, int] = field(default_factory=dict)
    # Other people's activities whose mentions of a forgotten person were redacted.
    mentions_redacted: int = 0
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view (never contains the key)."""
        entities = sorted(self.records.keys() | self.quarantined.keys() | self.erased.keys())
        return {
            **{f"records.{name}": self.records.get(name, 0) for name in entities},
            **{f"quarantined.{name}": self.quarantined.get(name, 0) for name in entities},
            **{f"erased.{name}": self.erased.get(name, 0) for name in entities},
            "mentions_redacted": self.mentions_redacted,
            "requests": self.requests,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 2),
        }


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _quarantine(
    client: ComplianceClient, layout: DataLayout, summary: PullSummary, erasure: RegisterGuard
) -> Quarantine:
    # Stored records keep all but keys: the narrow redaction only.
    return Quarantine(
        layout.compliance("quarantine"),
        partial(client.redact, thorough=False),
        summary.quarantined,
        erased=lambda record: erasure.register.names_anyone(record),
        erased_counts=summary.erased,
    )


def _count(counts: dict[str, int], entity: str, number: int) -> None:
    if number:
        counts[entity] = counts.get(entity, 0) + number


def _ids_landed_elsewhere(layout: DataLayout, days: list, name: str) -> set[str]:
    """Activity ids already landed on these days by other pages than `name`."""
    seen: set[str] = set()
    for day in days:
        partition = layout.compliance("activities") / f"created_date={day}"
        for path in partition.glob("*.parquet") if partition.exists() else []:
            if path.name != name:
                seen.update(pq.read_table(path, columns=["activity_id"]).column(0).to_pylist())
    return seen


def _page_name(first: str, last: str) -> str:
    """The file name of a page: its first and last ids, or their digest if unfit for a name.

    Ids come from the server: one with a `/`, a NUL or 300 characters must not pick the
    folder, fail the write, or exceed the file-name limit.
    """
    if _SAFE_ID.fullmatch(first) and _SAFE_ID.fullmatch(last):
        return f"page-{first}-{last}.parquet"
    digest = hashlib.sha256(json.dumps([first, last]).encode()).hexdigest()[:32]
    return f"page-{digest}.parquet"


def _land_page(
    layout: DataLayout, rows: list[dict], erasure: RegisterGuard, summary: PullSummary
) -> int:
    """Write one page's rows durably, partitioned by UTC created date, under deterministic names.

    Records landed before by another page (the overlap window of an incremental run) are
    left out, so the landing itself holds each activity once; a page fetched again after a
    crash keeps its name and replaces its own file. Activities of forgotten people are
    dropped, and their mentions in other people's redacted.
    """
    if not rows:
        return 0
    name = _page_name(rows[0]["activity_id"], rows[-1]["activity_id"])
    table = pa.Table.from_pylist(rows, schema=ACTIVITIES_SCHEMA)
    with erasure.hold() as register:
        if register:
            table, erased = register.drop(table, COMPLIANCE_STRONG_COLUMNS)
            table, redacted = register.redact_columns(table, COMPLIANCE_MENTION_COLUMNS)
            _count(summary.erased, "activities", erased)
            summary.mentions_redacted += redacted
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


def _first_window(
    state: dict, backfill_days: int, now: datetime, keep_days: int | None = None
) -> dict:
    """Where a pull starts when no page cursor is in progress: the watermark's overlap.

    Never before the first day the landing keeps (`keep_days`, the raw retention): an older
    activity would be landed only for the next retention pass to drop it.
    """
    watermark = state.get("watermark")
    lower = (
        _parse_time(watermark["created_at"]) - OVERLAP
        if watermark
        else now - timedelta(days=backfill_days)
    )
    if keep_days is not None:
        kept_from = now.astimezone(UTC).date() - timedelta(days=keep_days)
        lower = max(lower, datetime(kept_from.year, kept_from.month, kept_from.day, tzinfo=UTC))
    return {"gte": _rfc3339(lower), "after_id": None, "top": None}


def pull_activities(
    client: ComplianceClient,
    layout: DataLayout,
    manifest: Manifest,
    *,
    backfill_days: int = 30,
    now: datetime | None = None,
    on_page: Callable[[int], None] | None = None,
    limits: PullLimits | None = None,
    summary: PullSummary | None = None,
    erasure: RegisterGuard | None = None,
    keep_days: int | None = None,
) -> int:
    """Land activities newer than the watermark (or the back-fill window on a first run).

    Pages go newest to oldest (`after_id` = the last id of a page) down to the window's
    lower bound. After each durable page the cursor is committed, once the page guard has
    accepted it (never one this pull has followed before); when the window is done, the
    watermark moves to the newest record landed. A rejected cursor falls back to the
    window from the last watermark (overlapping pages dedupe on `id` downstream).
    Malformed records are quarantined and counted in `summary.quarantined`; records of
    forgotten people (`erasure`, default the register without the pepper) are dropped and
    counted in `summary.erased`. `keep_days`: no activity older than the raw retention.

    Returns:
        Records landed.

    Raises:
        AnthropicApiError: a failed request, or a listing that would not end.
    """
    limits = limits or PullLimits()
    summary = summary or PullSummary()
    erasure = erasure or RegisterGuard(layout)
    quarantine = _quarantine(client, layout, summary, erasure)
    now = now or datetime.now(UTC)
    state = manifest.get_state("compliance.activities") or {}
    progress = state.get("in_progress") or _first_window(state, backfill_days, now, keep_days)
    guard = PageGuard(ACTIVITIES_PATH, limits.max_pages, client.redact, progress["after_id"])
    landed = 0
    while True:
        params = {"limit": ACTIVITY_PAGE_LIMIT, "created_at.gte": progress["gte"]}
        params["after_id"] = progress["after_id"]
        number = guard.next_number()
        try:
            body = client.get(ACTIVITIES_PATH, params)
        except AnthropicApiError as error:
            if error.status == 400 and progress["after_id"]:
                LOGGER.warning("activity cursor rejected; re-pulling the window from the watermark")
                state = {"watermark": state.get("watermark")}
                manifest.set_state("compliance.activities", state)
                progress = _first_window(state, backfill_days, now, keep_days)
                continue
            raise
        sent = {key: value for key, value in params.items() if value is not None}
        page = Page(ACTIVITIES_PATH, sent, number, progress["after_id"], body)
        build = partial(activity_row, landed_at=datetime.now(UTC), latest=now + FUTURE_SLACK)
        rows = quarantine.rows("activities", page, build)
        landed += _land_page(layout, rows, erasure, summary)
        crash_point("after_activity_page_landed")
        items = page_items(body)
        if on_page:
            on_page(len(items))
        top = progress["top"] or (
            {"id": rows[0]["activity_id"], "created_at": _rfc3339(rows[0]["created_at"])}
            if rows
            else None
        )
        if body.get("has_more") and items:
            after = guard.follow(body.get("last_id"), "last_id")
            progress = {"gte": progress["gte"], "after_id": after, "top": top}
            state = {"watermark": state.get("watermark"), "in_progress": progress}
            manifest.set_state("compliance.activities", state)
            continue
        summary.records["activities"] = summary.records.get("activities", 0) + landed
        manifest.set_state("compliance.activities", {"watermark": top or state.get("watermark")})
        return landed


def _all_rows(
    client: ComplianceClient,
    quarantine: Quarantine,
    limits: PullLimits,
    entity: str,
    path: str,
    limit: int,
    context: dict[str, str] | None = None,
) -> list[dict]:
    """The landable rows of every page of a page-token listing; the rest quarantined."""
    rows: list[dict] = []
    for page in token_pages(client, path, limit, limits.max_pages):
        rows += quarantine.rows(entity, page, lambda r: snapshot_row(entity, r, context))
    return rows


def _snapshot(
    layout: DataLayout,
    entity: str,
    rows: list[dict],
    taken_at: datetime,
    erasure: RegisterGuard,
    summary: PullSummary,
) -> int:
    """Write an entity's rows (already shaped by `snapshot_row`) as the day's snapshot.

    Rows of forgotten people are dropped (counted in `summary.erased`).
    """
    if not rows:
        return 0
    table = pa.Table.from_pylist(
        [{**row, "snapshot_at": taken_at} for row in rows], SNAPSHOT_SCHEMAS[entity]
    )
    # One snapshot per day per entity: a rerun the same day replaces it; other days stay,
    # so the history of the directory (who was in which team when) is kept.
    target = layout.compliance(entity) / f"snapshot_date={taken_at.date()}" / "snapshot.parquet"
    columns = COMPLIANCE_USERS_STRONG_COLUMNS if entity == "users" else COMPLIANCE_STRONG_COLUMNS
    with erasure.hold() as register:
        table, erased = register.drop(table, columns)
        _count(summary.erased, entity, erased)
        write_parquet_atomically(table, target)
    return table.num_rows


def _segment(value: str) -> str:
    """An id from the API as one URL path segment (a hostile id cannot change the endpoint)."""
    return quote(value, safe="")


def pull_directory(
    client: ComplianceClient,
    layout: DataLayout,
    summary: PullSummary,
    limits: PullLimits | None = None,
    erasure: RegisterGuard | None = None,
) -> None:
    """Dated snapshots of organisations, users, roles, groups and group members."""
    limits = limits or PullLimits()
    erasure = erasure or RegisterGuard(layout)
    quarantine = _quarantine(client, layout, summary, erasure)
    rows = partial(_all_rows, client, quarantine, limits)
    taken_at = datetime.now(UTC)
    snapshot = partial(_snapshot, layout, erasure=erasure, summary=summary)
    organizations = rows("organizations", "/v1/compliance/organizations", 100)
    summary.records["organizations"] = snapshot("organizations", organizations, taken_at)
    users, roles = [], []
    for organization in organizations:
        context = {"organization_uuid": organization["uuid"]}
        base = f"/v1/compliance/organizations/{_segment(organization['uuid'])}"
        users += rows("users", f"{base}/users", 1000, context)
        roles += rows("roles", f"{base}/roles", 1000, context)
    summary.records["users"] = snapshot("users", users, taken_at)
    summary.records["roles"] = snapshot("roles", roles, taken_at)
    groups = rows("groups", "/v1/compliance/groups", 1000)
    summary.records["groups"] = snapshot("groups", groups, taken_at)
    members = []
    for group in groups:
        path = f"/v1/compliance/groups/{_segment(group['id'])}/members"
        members += rows("members", path, 1000, {"group_id": group["id"]})
    summary.records["members"] = snapshot("members", members, taken_at)


def pull_local_sessions(
    client: ComplianceClient,
    layout: DataLayout,
    summary: PullSummary,
    limits: PullLimits | None = None,
    erasure: RegisterGuard | None = None,
) -> None:
    """Local (Cowork / Claude Code) session metadata; never any message content."""
    erasure = erasure or RegisterGuard(layout)
    quarantine = _quarantine(client, layout, summary, erasure)
    path = "/v1/compliance/apps/sessions/local"
    sessions = _all_rows(client, quarantine, limits or PullLimits(), "sessions", path, 500)
    summary.records["sessions"] = _snapshot(
        layout, "sessions", sessions, datetime.now(UTC), erasure, summary
    )


def pull_chats_and_projects(
    client: ComplianceClient,
    layout: DataLayout,
    summary: PullSummary,
    limits: PullLimits | None = None,
    erasure: RegisterGuard | None = None,
) -> None:
    """Chat and project metadata (ids, owners, timestamps, model); never message content.

    Only the columns of the entity's snapshot schema are kept (see `snapshot_row`).
    """
    limits = limits or PullLimits()
    erasure = erasure or RegisterGuard(layout)
    quarantine = _quarantine(client, layout, summary, erasure)
    chats: list[dict] = []
    # The cursor scheme, oldest first: `after_id` = the page's last id.
    for page in cursor_pages(
        client, "/v1/compliance/apps/chats", {"limit": 1000}, limits.max_pages
    ):
        chats += quarantine.rows("chats", page, lambda r: snapshot_row("chats", r))
    summary.records["chats"] = _snapshot(
        layout, "chats", chats, datetime.now(UTC), erasure, summary
    )
    projects = _all_rows(
        client, quarantine, limits, "projects", "/v1/compliance/apps/projects", 100
    )
    summary.records["projects"] = _snapshot(
        layout, "projects", projects, datetime.now(UTC), erasure, summary
    )


def pull_compliance(
    client: ComplianceClient,
    layout: DataLayout,
    *,
    backfill_days: int = 30,
    on_page: Callable[[int], None] | None = None,
    now: datetime | None = None,
    limits: PullLimits | None = None,
    erasure_pepper: bytes | None = None,
    keep_days: int | None = None,
) -> PullSummary:
    """Pull everything: activities (incremental), directory snapshots, local sessions.

    Args:
        client: the Compliance API client.
        layout: the data directory to land into.
        backfill_days: activity history of a first pull (days).
        on_page: called with each activity page's record count.
        now: the pull's time (default: now).
        limits: pages per listing and the pull's deadline.
        erasure_pepper: `COWORK_PII_PEPPER` whenever it is set: a key of the erasure
            register, whose people are dropped.
        keep_days: the raw retention (`COWORK_RAW_RETENTION_DAYS`): no older activity is
            fetched.

    Raises:
        AnthropicApiError: a failed request, a listing that would not end, or the pull's
            deadline (`limits.pull_seconds`) passed.
        RegisterKeyError: the erasure register needs a key not given (before any request).
    """
    limits = limits or PullLimits()
    erasure = RegisterGuard(layout, erasure_pepper)
    summary = PullSummary()
    manifest = Manifest(layout.manifest)
    try:
        with client.deadline(limits.pull_seconds):
            pull_activities(
                client,
                layout,
                manifest,
                backfill_days=backfill_days,
                on_page=on_page,
                now=now,
                limits=limits,
                summary=summary,
                erasure=erasure,
                keep_days=keep_days,
            )
            pull_directory(client, layout, summary, limits, erasure)
            pull_local_sessions(client, layout, summary, limits, erasure)
            pull_chats_and_projects(client, layout, summary, limits, erasure)
    finally:
        manifest.close()
        summary.requests = client.stats.requests
        summary.retries = client.stats.retries
        summary.waited_seconds = client.stats.waited_seconds
    return summary
