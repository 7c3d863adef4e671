"""Pulls against the emulator over real HTTP: exact, incremental, and fault-tolerant."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from configuration.settings import Settings
from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.compliance_api.client import API_KEY_VARIABLE, ComplianceClient
from ingestion.compliance_api.pull import pull_activities, pull_compliance
from ingestion.manifest import Manifest
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator
from tests.support.organisations import SMALL_ORG

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
END_OF_PERIOD = datetime(SMALL_ORG["end_date"].year, 3, 11, tzinfo=UTC)


def _client(url: str, **options) -> ComplianceClient:
    return ComplianceClient(
        "sk-ant-api01-test", url, backoff_base=0.001, backoff_cap=0.01, **options
    )


def _ids(layout: DataLayout, entity: str, column: str) -> list[str]:
    return [
        row[0]
        for row in duckdb.sql(
            f"select {column} from read_parquet('{layout.compliance(entity)}/*/*.parquet') order by all"
        ).fetchall()
    ]


def _pull(url: str, layout: DataLayout, **options):
    with _client(url, **options) as client:
        return pull_compliance(client, layout, backfill_days=60, now=END_OF_PERIOD)


def test_a_pull_lands_every_record_the_api_serves(emulator, emulator_data, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    summary = _pull(emulator.url, layout)
    assert _ids(layout, "activities", "activity_id") == sorted(
        a["id"] for a in emulator_data.activities
    )
    assert _ids(layout, "users", "id") == sorted(u["id"] for u in emulator_data.users)
    assert len(_ids(layout, "members", "user_id")) == len(emulator_data.members)
    assert summary.records["groups"] == len(emulator_data.groups)
    assert summary.records["sessions"] == len(emulator_data.sessions_local)
    assert summary.retries == 0
    assert sum(summary.quarantined.values()) == 0  # the generator's records are all well formed
    assert not layout.compliance("quarantine").exists()


def test_later_pulls_fetch_only_what_is_newer(emulator, emulator_data, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    manifest = Manifest(layout.manifest)
    with _client(emulator.url) as client:
        first = pull_activities(client, layout, manifest, backfill_days=60, now=END_OF_PERIOD)
        requests_before = client.stats.requests
        again = pull_activities(client, layout, manifest, now=END_OF_PERIOD)
        assert client.stats.requests - requests_before == 1  # one page inside the overlap
    assert first == len(emulator_data.activities)
    assert again == 0  # the overlap window is fetched again but nothing lands twice
    landed = _ids(layout, "activities", "activity_id")
    assert len(landed) == len(set(landed)) == first
    assert (
        manifest.get_state("compliance.activities")["watermark"]["id"]
        == emulator_data.activities[0]["id"]
    )


def test_a_pull_under_30_percent_faults_lands_exactly_the_fault_free_records(
    emulator_data, tmp_path
) -> None:
    clean, faulty = DataLayout(tmp_path / "clean"), DataLayout(tmp_path / "faulty")
    with ComplianceEmulator(emulator_data) as server:
        _pull(server.url, clean)
    with ComplianceEmulator(
        emulator_data, fault_rate=0.3, seed=4, retry_after_seconds=0, slow_seconds=0.05
    ) as server:
        summary = _pull(server.url, faulty, timeout=httpx.Timeout(2.0))
        assert sum(server.faults_injected.values()) > 3
    assert summary.retries > 0
    for entity, column in (
        ("activities", "activity_id"),
        ("users", "id"),
        ("members", "user_id"),
        ("sessions", "session_id"),
    ):
        assert sorted(set(_ids(faulty, entity, column))) == sorted(
            set(_ids(clean, entity, column))
        ), entity


def test_429_waits_at_least_retry_after_and_does_not_advance(
    emulator_data, tmp_path: Path, monkeypatch
) -> None:
    """A1: a 429 in the middle of pagination: at least `retry-after` is slept, same data."""
    import ingestion.compliance_api.pull as pull_module

    monkeypatch.setattr(pull_module, "ACTIVITY_PAGE_LIMIT", 50)
    with ComplianceEmulator(
        emulator_data, retry_after_seconds=0.2, scripted_faults={2: "429"}
    ) as server:
        layout = DataLayout(tmp_path)
        with _client(server.url) as client:
            pull_activities(
                client, layout, Manifest(layout.manifest), backfill_days=60, now=END_OF_PERIOD
            )
            assert server.faults_injected == {"429": 1}
            assert client.stats.retries == 1
            assert client.stats.waited_seconds >= 0.2
    assert len(_ids(layout, "activities", "activity_id")) == len(emulator_data.activities)


def _mock_client(responses: list[httpx.Response]) -> tuple[ComplianceClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    client = ComplianceClient(
        "sk-ant-api01-SENTINEL",
        "https://api.example",
        backoff_base=0.001,
        transport=httpx.MockTransport(handler),
    )
    return client, seen


def _error(status: int, error_type: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "error", "error": {"type": error_type, "message": "nope"}},
        headers={"request-id": "req_0123", **headers},
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
def test_server_errors_are_retried_then_reported(status: int) -> None:
    """A2: retried with backoff up to the attempt limit, then a clear failure."""
    client, seen = _mock_client([_error(status, "api_error")])
    with pytest.raises(AnthropicApiError, match=f"{status} api_error"):
        client.get("/v1/compliance/activities")
    assert len(seen) == client.max_attempts


def test_x_should_retry_false_is_not_retried() -> None:
    client, seen = _mock_client([_error(500, "api_error", **{"x-should-retry": "false"})])
    with pytest.raises(AnthropicApiError):
        client.get("/v1/compliance/activities")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
    ],
)
def test_client_errors_fail_fast_with_status_type_and_request_id(
    status: int, error_type: str
) -> None:
    """A3: no retry; the message names status, type and request id, never the key."""
    client, seen = _mock_client([_error(status, error_type)])
    with pytest.raises(AnthropicApiError) as caught:
        client.get("/v1/compliance/activities")
    assert len(seen) == 1
    message = str(caught.value)
    assert str(status) in message and error_type in message and "req_0123" in message
    assert "SENTINEL" not in message
    assert seen[0].headers["x-api-key"] == "sk-ant-api01-SENTINEL"


def test_a_retried_request_succeeds_after_transient_failures() -> None:
    ok = httpx.Response(200, json={"data": [], "has_more": False})
    client, seen = _mock_client(
        [
            _error(529, "overloaded_error"),
            _error(429, "rate_limit_error", **{"retry-after": "0"}),
            ok,
        ]
    )
    assert client.get("/v1/compliance/activities") == {"data": [], "has_more": False}
    assert len(seen) == 3


def test_a_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=API_KEY_VARIABLE):
        ComplianceClient.from_settings(Settings(data_dir=tmp_path))


def test_a_rejected_cursor_falls_back_to_the_watermark_window(
    emulator, emulator_data, tmp_path: Path
) -> None:
    """A6: an expired cursor re-pulls from the last watermark; nothing is missed."""
    layout = DataLayout(tmp_path)
    manifest = Manifest(layout.manifest)
    manifest.set_state(
        "compliance.activities",
        {
            "watermark": None,
            "in_progress": {
                "gte": "2026-01-01T00:00:00Z",
                "after_id": "activity_gone",
                "top": None,
            },
        },
    )
    with _client(emulator.url) as client:
        pull_activities(client, layout, manifest, backfill_days=60, now=END_OF_PERIOD)
    assert sorted(set(_ids(layout, "activities", "activity_id"))) == sorted(
        a["id"] for a in emulator_data.activities
    )


def test_pages_at_the_limit_maximum_and_an_empty_last_page_end_cleanly(emulator_data) -> None:
    """A7: a page of exactly `limit` records ends with has_more false; an empty page ends."""
    from simulation.compliance_emulator import _activities

    count = len(emulator_data.activities)
    page = _activities(emulator_data, {"limit": str(count)})
    assert len(page["data"]) == count and page["has_more"] is False
    last = _activities(emulator_data, {"limit": "5000", "after_id": page["last_id"]})
    assert last == {"data": [], "has_more": False, "first_id": None, "last_id": None}
    with pytest.raises(Exception, match="limit must be between 1 and 5000"):
        _activities(emulator_data, {"limit": "5001"})


def test_sigkill_after_a_page_lands_then_rerun_has_no_gap(
    emulator, emulator_data, tmp_path: Path
) -> None:
    """A4: killed after page N is durable but before its cursor commits: page N comes again."""
    script = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC;"
        " from ingestion.compliance_api.client import ComplianceClient;"
        " from ingestion.compliance_api.pull import pull_activities, ACTIVITY_PAGE_LIMIT;"
        " import ingestion.compliance_api.pull as pull; pull.ACTIVITY_PAGE_LIMIT = 20;"
        " from ingestion.manifest import Manifest; from ingestion.paths import DataLayout;"
        " layout = DataLayout(Path(sys.argv[2]));"
        " pull_activities(ComplianceClient('k', sys.argv[1]), layout, Manifest(layout.manifest),"
        " backfill_days=60, now=datetime(2026, 3, 11, tzinfo=UTC))"
    )
    environment = {
        **os.environ,
        "COWORK_TEST_CRASH_AT": "after_activity_page_landed",
        "COWORK_TEST_CRASH_AFTER": "3",
    }
    crashed = subprocess.run(
        [sys.executable, "-c", script, emulator.url, str(tmp_path)],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    rerun = subprocess.run(
        [sys.executable, "-c", script, emulator.url, str(tmp_path)],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    landed = _ids(DataLayout(tmp_path), "activities", "activity_id")
    assert sorted(set(landed)) == sorted(a["id"] for a in emulator_data.activities)
    assert len(landed) == len(set(landed))  # the re-fetched page replaced its own file


def test_the_key_never_reaches_logs_or_files(emulator, tmp_path: Path) -> None:
    """A8: a sentinel key appears nowhere in what a verbose CLI pull writes or prints."""
    sentinel = "sk-ant-api01-SENTINEL-4b1d-do-not-log"
    environment = {
        **os.environ,
        API_KEY_VARIABLE: sentinel,
        "ANTHROPIC_COMPLIANCE_BASE_URL": emulator.url,
        "COLUMNS": "200",
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "cowork-analytics"),
            "--verbose",
            "ingest",
            "compliance",
            "--data-dir",
            str(tmp_path),
            "--backfill-days",
            "60",
        ],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "activities" in completed.stdout
    assert sentinel not in completed.stdout + completed.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert sentinel.encode() not in path.read_bytes(), path


def test_chats_and_projects_land_as_metadata_only(emulator, emulator_data, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    summary = _pull(emulator.url, layout)
    assert summary.records["chats"] == len(emulator_data.chats) > 0
    assert summary.records["projects"] == len(emulator_data.projects) > 0
    columns = duckdb.sql(
        f"describe select * from read_parquet('{layout.compliance('chats')}/*/*.parquet')"
    ).fetchall()
    assert {"id", "user_id", "model", "created_at"} <= {row[0] for row in columns}
    assert not {"chat_messages", "content"} & {row[0] for row in columns}


def test_a_missing_scope_fails_fast_naming_the_scope(emulator_data) -> None:
    scopes = frozenset({"read:compliance_activities"})
    with ComplianceEmulator(emulator_data, scopes=scopes) as server, _client(server.url) as client:
        with pytest.raises(
            AnthropicApiError, match=r"403 permission_error.*read:compliance_user_data"
        ):
            client.get("/v1/compliance/apps/sessions/local")
        assert client.stats.requests == 1


def test_the_emulator_enforces_the_shared_budget_and_the_client_waits_it_out(emulator_data) -> None:
    with ComplianceEmulator(emulator_data, requests_per_minute=3) as server:
        raw = httpx.get(f"{server.url}/v1/compliance/organizations", headers={"x-api-key": "k"})
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == "2"
        assert "anthropic-ratelimit-requests-reset" in raw.headers
        for _ in range(2):
            httpx.get(f"{server.url}/v1/compliance/organizations", headers={"x-api-key": "k"})
        limited = httpx.get(f"{server.url}/v1/compliance/organizations", headers={"x-api-key": "k"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1


def test_new_activities_are_fetched_by_the_next_run(emulator_data, tmp_path: Path) -> None:
    import dataclasses

    older = dataclasses.replace(emulator_data, activities=emulator_data.activities[10:])
    layout = DataLayout(tmp_path)
    manifest = Manifest(layout.manifest)
    with ComplianceEmulator(older) as server, _client(server.url) as client:
        assert pull_activities(
            client, layout, manifest, backfill_days=60, now=END_OF_PERIOD
        ) == len(older.activities)
    with ComplianceEmulator(emulator_data) as server, _client(server.url) as client:
        assert pull_activities(client, layout, manifest, now=END_OF_PERIOD) == 10
    landed = _ids(layout, "activities", "activity_id")
    assert landed == sorted(a["id"] for a in emulator_data.activities)
