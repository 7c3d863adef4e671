"""Pulls against a hostile Compliance API over real HTTP: the pull stops on its own, clearly."""

import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.anthropic_api.errors import (
    AnthropicApiError,
    DeadlineExceededError,
    InvalidResponseError,
    PaginationError,
)
from ingestion.anthropic_api.paging import PullLimits
from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import (
    PullSummary,
    pull_activities,
    pull_chats_and_projects,
    pull_compliance,
    pull_directory,
    pull_local_sessions,
)
from ingestion.manifest import Manifest
from ingestion.paths import DataLayout
from tests.support.hostile_api import (
    HostileServer,
    Reply,
    Route,
    activity,
    cursor_page,
)

ACTIVITIES = "/v1/compliance/activities"
CHATS = "/v1/compliance/apps/chats"
ORGANIZATIONS = "/v1/compliance/organizations"
SESSIONS = "/v1/compliance/apps/sessions/local"
NOW = datetime(2026, 3, 11, tzinfo=UTC)
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


def _client(url: str, key: str = "sk-ant-api01-test", **options) -> ComplianceClient:
    return ComplianceClient(key, url, backoff_base=0.001, backoff_cap=0.01, **options)


def _activity_cursor(layout: DataLayout) -> str | None:
    state = Manifest(layout.manifest).get_state("compliance.activities") or {}
    return (state.get("in_progress") or {}).get("after_id")


def _pull_activities(url: str, layout: DataLayout, **options) -> int:
    with _client(url) as client:
        return pull_activities(
            client, layout, Manifest(layout.manifest), backfill_days=60, now=NOW, **options
        )


def _quarantined(layout: DataLayout, entity: str) -> list[dict]:
    lines = []
    for path in sorted((layout.compliance("quarantine") / entity).glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def _repeating_cursors(cycle: bool):
    """Pages whose `last_id` comes back: the same one again, or an earlier one (a cycle)."""

    def route(query: dict[str, str], headers: dict[str, str]) -> Reply:
        after = query.get("after_id")
        if after is None:
            return cursor_page([activity(1), activity(2)], True, "activity_0002")
        if after == "activity_0002" and cycle:
            return cursor_page([activity(3), activity(4)], True, "activity_0004")
        return cursor_page([activity(5), activity(6)], True, "activity_0002")

    return route


@pytest.mark.parametrize(
    "cycle", [pytest.param(False, id="same cursor"), pytest.param(True, id="cycle")]
)
def test_a_repeated_activity_cursor_ends_the_pull_at_the_last_good_cursor(
    tmp_path: Path, cycle: bool
) -> None:
    # Regression: `has_more: true` with the same `last_id` looped for ever (about 1,190
    # requests in 2 minutes) and persisted the cursor, so the next run looped again.
    layout = DataLayout(tmp_path)
    with HostileServer({ACTIVITIES: _repeating_cursors(cycle)}) as server:
        with pytest.raises(PaginationError, match=f"GET {ACTIVITIES}.*repeated") as caught:
            _pull_activities(server.url, layout)
        assert server.count(ACTIVITIES) == (3 if cycle else 2)
        good = "activity_0004" if cycle else "activity_0002"
        assert _activity_cursor(layout) == good
        assert "\n" not in str(caught.value)
        # THEN the next run stops within the cycle instead of looping again.
        with pytest.raises(PaginationError):
            _pull_activities(server.url, layout)
        assert server.count(ACTIVITIES) == (5 if cycle else 3)
    assert _activity_cursor(layout) in {"activity_0002", "activity_0004"}


def test_has_more_without_a_cursor_is_a_clear_error(tmp_path: Path) -> None:
    # Regression: `has_more: true` with no `last_id` ended in a KeyError traceback.
    def route(query, headers):
        return cursor_page([activity(1)], True, None)

    with (
        HostileServer({ACTIVITIES: route}) as server,
        pytest.raises(PaginationError, match=f"GET {ACTIVITIES}.*last_id"),
    ):
        _pull_activities(server.url, DataLayout(tmp_path))


def test_a_repeated_chats_cursor_ends_the_pull(tmp_path: Path) -> None:
    # Regression: the chats listing (the same cursor scheme) looped for ever too.
    def route(query, headers):
        chat = {"id": f"claude_chat_{query.get('after_id')}", "name": "a chat"}
        return cursor_page([chat], True, "claude_chat_first")

    with HostileServer({CHATS: route}) as server, _client(server.url) as client:
        with pytest.raises(PaginationError, match=f"GET {CHATS}.*repeated"):
            pull_chats_and_projects(client, DataLayout(tmp_path), PullSummary())
        assert server.count(CHATS) == 2


@pytest.mark.parametrize(
    ("path", "puller", "has_more"),
    [
        pytest.param(ORGANIZATIONS, pull_directory, True, id="organizations"),
        pytest.param(SESSIONS, pull_local_sessions, None, id="sessions without has_more"),
    ],
)
def test_a_repeated_page_token_ends_the_pull(tmp_path: Path, path, puller, has_more) -> None:
    # Regression: `_all_pages` followed a `next_page` token that never changed for ever.
    def route(query, headers):
        body = {"data": [], "next_page": "token-1"}
        if has_more is not None:
            body["has_more"] = has_more
        return Reply(body)

    with HostileServer({path: route}) as server, _client(server.url) as client:
        with pytest.raises(PaginationError, match=f"GET {path}.*repeated page token"):
            puller(client, DataLayout(tmp_path), PullSummary())
        assert server.count(path) == 2


def _endless(query, headers):
    """A server with always one more page, each with a new cursor."""
    after = query.get("after_id")
    number = int(after.removeprefix("activity_")) + 1 if after else 1
    return cursor_page([activity(number)], True, f"activity_{number:04d}")


def test_a_page_limit_ends_the_pull_and_the_next_run_continues(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    limits = PullLimits(max_pages=5)
    with HostileServer({ACTIVITIES: _endless}) as server:
        with pytest.raises(PaginationError, match=f"GET {ACTIVITIES}.*5 pages"):
            _pull_activities(server.url, layout, limits=limits)
        assert server.count(ACTIVITIES) == 5
        # Every page was good: the cursor is at the fifth, and the next run goes on from it.
        assert _activity_cursor(layout) == "activity_0005"
        with pytest.raises(PaginationError):
            _pull_activities(server.url, layout, limits=limits)
        assert server.requests[5][1]["after_id"] == "activity_0005"
    assert _activity_cursor(layout) == "activity_0010"


def _dripping(query, headers):
    # A whole, valid page, sent one byte at a time: each read is quick, the response is not.
    body = json.dumps({"data": [], "has_more": False}) + " " * 200
    return Reply(body, drip_seconds=0.02)


def test_a_server_sending_one_byte_at_a_time_hits_the_request_deadline() -> None:
    # Regression: httpx's 60 s read timeout is per read, so a server sending one byte per
    # second held a pull for ever.
    with HostileServer({ACTIVITIES: _dripping}) as server:
        with _client(server.url, request_deadline=0.5, max_attempts=2) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError, match=f"GET {ACTIVITIES}.*0.5 s") as caught:
                client.get(ACTIVITIES)
            assert time.monotonic() - started < 3.0
        assert server.count(ACTIVITIES) == 2  # a slow response is worth one more try
    assert "\n" not in str(caught.value)


def test_the_pull_deadline_ends_a_pull_against_a_slow_server(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    with (
        HostileServer({ACTIVITIES: _dripping}) as server,
        _client(server.url, request_deadline=60) as client,
    ):
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=f"GET {ACTIVITIES}.*pull deadline"):
            pull_compliance(client, layout, now=NOW, limits=PullLimits(pull_seconds=1.0))
        assert time.monotonic() - started < 3.0
    assert _activity_cursor(layout) is None


HTML = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>proxy</p>" * 300


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(HTML, "text/html; charset=utf-8", id="html"),
        pytest.param('{"data": [', "application/json", id="truncated json"),
        pytest.param("[1, 2]", "application/json", id="json array"),
        pytest.param(b"\xff\xfe\x00garbage", "application/octet-stream", id="bytes"),
    ],
)
def test_a_200_that_is_not_a_json_object_is_a_one_line_error(body, content_type) -> None:
    # Regression: an HTML page with status 200 ended in a 169-line JSONDecodeError traceback
    # naming neither the URL nor the status.
    with HostileServer({ACTIVITIES: lambda q, h: Reply(body, content_type=content_type)}) as server:
        with _client(server.url) as client, pytest.raises(InvalidResponseError) as caught:
            client.get(ACTIVITIES, {"limit": 10})
        assert server.count(ACTIVITIES) == 3  # a proxy's error page may pass: a few tries
    message = str(caught.value)
    assert message.startswith(f"GET {ACTIVITIES} failed: 200 invalid_response")
    assert content_type.split(";")[0] in message
    assert "\n" not in message and len(message) < 300


SENTINELS = [
    pytest.param("sk-ant-api01-SENTINEL-4b1d" + "Q" * 60 + "-AAAA", id="anthropic-shaped"),
    pytest.param("opaque-SENTINEL-key-5e2a", id="any other shape"),
]


def _echoing(status: int):
    """An error that echoes the request's key in its message, type and request id."""

    def route(query, headers):
        key = headers["x-api-key"]
        error = {"type": f"bad_key_{key}", "message": f"invalid x-api-key: {key}; Bearer {key}"}
        return Reply({"error": error}, status=status, headers={"request-id": key})

    return route


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("sentinel", SENTINELS)
def test_a_server_echoing_the_key_never_gets_it_printed_logged_or_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sentinel: str, status: int
) -> None:
    # Regression: a server error message echoing the `x-api-key` header was printed verbatim.
    caplog.set_level(logging.DEBUG)
    with (
        HostileServer({ACTIVITIES: _echoing(status)}) as server,
        _client(server.url, key=sentinel) as client,
        pytest.raises(AnthropicApiError) as caught,
    ):
        pull_compliance(client, DataLayout(tmp_path), now=NOW)
    message = str(caught.value)
    assert f"{status}" in message and "[redacted]" in message
    assert sentinel not in message and "SENTINEL" not in repr(caught.value.args)
    assert "SENTINEL" not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"SENTINEL" not in path.read_bytes(), path


MALFORMED = [
    activity(10, id=None),
    {key: value for key, value in activity(11).items() if key != "created_at"},
    activity(12, created_at=1773141600),
    activity(13, created_at="yesterday"),
    activity(14, created_at="9999-12-31T23:59:59Z"),  # a watermark there stops every later pull
    activity(15, created_at="2026-03-10T10:00:00"),  # no UTC offset
    activity(16, actor=["user_actor"]),
    activity(17, type=7),
    activity(18, organization_id="org_\ud800"),
    activity(19, nested={"cost": float("nan")}),
    "activity_0020",
    None,
]


def test_malformed_activities_are_quarantined_and_the_pull_goes_on(tmp_path: Path) -> None:
    # Regression: `id: null` aborted the pull with an Arrow error, a missing `created_at` with
    # a KeyError, on every rerun.
    layout = DataLayout(tmp_path)
    first = [MALFORMED[4], activity(1), *MALFORMED[:4], activity(2)]
    second = [*MALFORMED[5:], activity(3)]

    def route(query, headers):
        if query.get("after_id") is None:
            return cursor_page(first, True, "activity_0002")
        return cursor_page(second, False, "activity_0003")

    summary = PullSummary()
    with HostileServer({ACTIVITIES: route}) as server:
        landed = _pull_activities(server.url, layout, summary=summary)
    assert landed == 3
    assert summary.quarantined["activities"] == len(MALFORMED)
    rows = duckdb.sql(
        f"select activity_id from read_parquet('{layout.compliance('activities')}/*/*.parquet')"
        " order by 1"
    ).fetchall()
    assert rows == [("activity_0001",), ("activity_0002",), ("activity_0003",)]
    # The watermark is the newest record that landed, not the one from year 9999.
    state = Manifest(layout.manifest).get_state("compliance.activities")
    assert state["watermark"]["id"] == "activity_0001"
    lines = _quarantined(layout, "activities")
    assert len(lines) == len(MALFORMED)
    assert {line["page"] for line in lines} == {1, 2}
    assert {line["cursor"] for line in lines} == {None, "activity_0002"}
    second_page = [line for line in lines if line["page"] == 2]
    assert second_page[0]["params"]["after_id"] == "activity_0002"
    assert all(line["endpoint"] == ACTIVITIES for line in lines)
    reasons = " | ".join(line["reason"] for line in lines)
    for expected in ("id is null", "created_at is missing", "created_at is a number", "after"):
        assert expected in reasons
    future = next(line for line in lines if "9999" in line["reason"])
    assert json.loads(future["record_json"])["created_at"] == "9999-12-31T23:59:59Z"
    for path in (layout.compliance("quarantine") / "activities").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_page_data_that_is_not_a_list_is_quarantined(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    summary = PullSummary()
    page = Reply({"data": activity(1), "has_more": False, "last_id": None})
    with HostileServer({ACTIVITIES: lambda q, h: page}) as server:
        assert _pull_activities(server.url, layout, summary=summary) == 0
    assert summary.quarantined["activities"] == 1
    assert "data is an object, not a list" in _quarantined(layout, "activities")[0]["reason"]


def _token_pages(*pages: list) -> Route:
    def route(query, headers):
        number = int(query.get("page") or 0)
        more = number + 1 < len(pages)
        return Reply(
            {
                "data": pages[number],
                "has_more": more,
                "next_page": str(number + 1) if more else None,
            }
        )

    return route


ORG = "abcdef01-2345-6789-abcd-ef0123456789"
GROUP = "rbac_group_01"


def _malformed_directory() -> dict[str, Route]:
    """Every snapshot listing, each with one good record and one or two malformed ones."""
    org = {"uuid": ORG, "name": "Acme", "created_at": "2025-01-01T00:00:00Z"}
    user = {"id": "user_01", "email": "a@example.com", "created_at": "2025-02-01T00:00:00Z"}
    session = {"id": "local_1", "user": {"id": "user_01"}, "created_at": "2026-03-09T00:00:00Z"}
    chats = [{"id": "chat_1", "created_at": "2026-03-09T00:00:00.123456789+05:00"}]
    chats.append({"id": "chat_2", "user": "x"})
    return {
        ORGANIZATIONS: _token_pages([org, {"name": "no uuid"}], ["not an org"]),
        f"{ORGANIZATIONS}/{ORG}/users": _token_pages(
            [user, {**user, "id": None}, {**user, "id": "user_02", "created_at": "soon"}]
        ),
        "/v1/compliance/groups": _token_pages([{"id": GROUP, "name": "Data"}, {"id": 5}]),
        f"/v1/compliance/groups/{GROUP}/members": _token_pages(
            [{"user_id": "user_01", "email": "a@example.com"}, ["user_02"]]
        ),
        SESSIONS: _token_pages([session, {"user": {}}]),
        CHATS: lambda query, headers: cursor_page(chats, False, None),
        "/v1/compliance/apps/projects": _token_pages(
            [{"id": "p1", "is_private": "yes"}, {"id": "p2", "deleted_at": None}]
        ),
    }


def test_malformed_snapshot_records_are_quarantined_and_the_rest_lands(tmp_path: Path) -> None:
    # Regression: a directory record without its id, or not an object, aborted the pull
    # (`organization['uuid']`, `record['id']` KeyErrors, Arrow type errors).
    layout = DataLayout(tmp_path)
    routes = _malformed_directory()
    summary = PullSummary()
    with HostileServer(routes) as server, _client(server.url) as client:
        pull_directory(client, layout, summary)
        pull_local_sessions(client, layout, summary)
        pull_chats_and_projects(client, layout, summary)
    entities = ("organizations", "users", "groups", "members", "sessions", "chats", "projects")
    landed = dict.fromkeys(entities, 1)
    assert {entity: summary.records[entity] for entity in entities} == landed
    quarantined = {**landed, "organizations": 2, "users": 2}
    assert {entity: summary.quarantined.get(entity, 0) for entity in entities} == quarantined
    for entity, count in landed.items():
        files = f"{layout.compliance(entity)}/*/*.parquet"
        assert duckdb.sql(f"select count(*) from read_parquet('{files}')").fetchall() == [(count,)]
        lines = _quarantined(layout, entity)
        assert len(lines) == summary.quarantined[entity]
        assert all(
            line["reason"] and line["endpoint"].startswith("/v1/compliance/") for line in lines
        )
    reasons = {line["reason"] for line in _quarantined(layout, "organizations")}
    assert reasons == {"uuid is missing", "record is a string, not an object"}


def _run_cli(url: str, data_dir: Path) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "ANTHROPIC_COMPLIANCE_API_KEY": "sk-ant-api01-SENTINEL-" + "k" * 40,
        "ANTHROPIC_COMPLIANCE_BASE_URL": url,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [
            *(str(Path(sys.executable).parent / "cowork-analytics"), "ingest", "compliance"),
            *("--data-dir", str(data_dir), "--backfill-days", "60"),
        ],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(lambda q, h: Reply(HTML, content_type="text/html"), id="html page"),
        pytest.param(_repeating_cursors(False), id="repeated cursor"),
        pytest.param(_echoing(401), id="key echoed"),
        pytest.param(lambda q, h: cursor_page([activity(1)], True, None), id="no cursor"),
    ],
)
def test_the_cli_reports_a_hostile_server_in_one_line(tmp_path: Path, route) -> None:
    with HostileServer({ACTIVITIES: route}) as server:
        completed = _run_cli(server.url, tmp_path)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output and "SENTINEL" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) <= 2, output
    assert ACTIVITIES in output


def test_the_cli_shows_quarantined_records(tmp_path: Path) -> None:
    page = cursor_page([activity(1), activity(2, id=None)], False, None)
    with HostileServer({ACTIVITIES: lambda q, h: page}) as server:
        completed = _run_cli(server.url, tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    row = next(line for line in completed.stdout.splitlines() if "activities" in line)
    assert re.findall(r"\d+", row) == ["1", "1"], completed.stdout  # landed, quarantined
    assert "quarantined" in completed.stdout.lower()


def test_the_warehouse_builds_on_what_a_hostile_server_left(tmp_path: Path) -> None:
    """Nothing that landed breaks a build: staging casts and reads every landed value."""
    from warehouse.build import build_warehouse

    layout = DataLayout(tmp_path)
    odd = activity(1, type="é\u202e\x00", emoji={"text": "😀"})
    page = cursor_page([odd, *MALFORMED, activity(2)], False, None)
    routes = {**_malformed_directory(), ACTIVITIES: lambda query, headers: page}
    with HostileServer(routes) as server, _client(server.url) as client:
        summary = pull_compliance(client, layout, now=NOW)
    assert summary.records["activities"] == 2 and summary.records["users"] == 1
    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    with duckdb.connect(str(layout.build_database), read_only=True) as database:
        staged = database.sql("select count(*) from staging.stg_compliance_api__activities")
        assert staged.fetchall() == [(2,)]
