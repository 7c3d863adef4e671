"""The security signals as ECS JSON lines under `serving/security/` (no dbt build).

Each test writes a small serving DuckDB file by hand, with `marts.fct_security_signals` and
`marts.dim_users` typed as the marts are, and exports it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from governance.pseudonyms import pseudonym
from ingestion.paths import DataLayout
from warehouse.build_state import record_build
from warehouse.publish import publish_build
from warehouse.security_export import (
    DEFAULT_MAPPING,
    ECS_VERSION,
    SIGNAL_MAPPINGS,
    SecurityExport,
    _timestamp,
    day_file,
    export_security_signals,
)

SIGNALS_DDL = """
create schema if not exists marts;
create table marts.fct_security_signals (
    signal_id varchar, signal_type varchar, severity varchar, user_key varchar,
    detected_at timestamp with time zone, activity_date date, tool_name varchar,
    target varchar, evidence varchar, source_id varchar
);
"""
USERS_DDL = """
create schema if not exists marts;
create table marts.dim_users (
    user_key varchar, user_account_id varchar, user_account_uuid varchar, user_email varchar,
    full_name varchar, organization_role varchar
);
"""
ADA = ("k-ada", "user_ada", None, "ada@example.com", "Ada Lovelace", "admin")
BOB = ("k-bob", "user_bob", None, "bob@example.com", "Bob Stone", "user")
# signal type -> (severity, person, tool, target): one signal of every type the mart has (or
# is about to have), on 3 March 2026.
EVERY_TYPE = {
    "sensitive_path_access": ("high", "k-ada", "Read", "~/.ssh/id_rsa"),
    "secret_in_command": ("high", "k-ada", "Bash", None),
    "new_tool": ("medium", "k-ada", "WebFetch", None),
    "new_mcp_server": ("medium", "k-ada", "mcp__github__search", "github"),
    "new_mcp_server_for_person": ("low", "k-bob", "mcp__github__search", "github"),
    "new_egress_domain": ("medium", "k-bob", "WebFetch", "example.org"),
    "rejected_then_retried": ("medium", "k-bob", "Bash", "rm -rf build"),
    "rejected_decisions_burst": ("medium", "k-bob", None, None),
    "otlp_settings_changed": ("high", "k-ada", None, None),
    "telemetry_silent": ("medium", "k-bob", None, None),
}
EXPECTED_CATEGORIES = {
    "sensitive_path_access": (["file"], ["access"]),
    "secret_in_command": (["intrusion_detection"], ["info"]),
    "new_tool": (["intrusion_detection"], ["info"]),
    "new_mcp_server": (["intrusion_detection"], ["info"]),
    "new_mcp_server_for_person": (["intrusion_detection"], ["info"]),
    "new_egress_domain": (["network"], ["connection"]),
    "rejected_then_retried": (["intrusion_detection"], ["allowed"]),
    "rejected_decisions_burst": (["intrusion_detection"], ["denied"]),
    "otlp_settings_changed": (["configuration"], ["change"]),
    "telemetry_silent": (["intrusion_detection"], ["info"]),
}


def _signal(
    signal_id: str,
    user_key: str,
    detected_at: str,
    signal_type: str = "sensitive_path_access",
    evidence: str = "read ~/.aws/credentials",
) -> tuple:
    return (
        signal_id,
        signal_type,
        "high",
        user_key,
        detected_at,
        "Read",
        "~/.aws/credentials",
        evidence,
        f"call-{signal_id}",
    )


def _serving(
    path: Path, signals: list[tuple], users: list[tuple] = (ADA, BOB), *, with_users: bool = True
) -> Path:
    """A serving file holding `signals` (activity_date = the UTC day of detected_at)."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(SIGNALS_DDL)
        for row in signals:
            connection.execute(
                "insert into marts.fct_security_signals values"
                " (?, ?, ?, ?, cast(? as timestamptz), cast(cast(? as timestamptz) as date),"
                " ?, ?, ?, ?)",
                [*row[:5], row[4], *row[5:]],
            )
        if with_users:
            connection.execute(USERS_DDL)
            for user in users:
                connection.execute("insert into marts.dim_users values (?, ?, ?, ?, ?, ?)", user)
    return path


def _documents(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_signal_type_maps_to_its_ecs_fields(tmp_path: Path) -> None:
    signals = [
        (
            f"s-{n}",
            kind,
            severity,
            user,
            f"2026-03-03 09:0{n}:00+00",
            tool,
            target,
            kind,
            f"src-{n}",
        )
        for n, (kind, (severity, user, tool, target)) in enumerate(EVERY_TYPE.items())
    ]
    serving = _serving(tmp_path / "serving.duckdb", signals)
    directory = tmp_path / "security"
    assert export_security_signals(serving, directory) == SecurityExport(written=1)
    assert sorted(p.name for p in directory.iterdir()) == ["security-signals-2026-03-03.jsonl"]
    documents = {d["event"]["code"]: d for d in _documents(day_file(directory, date(2026, 3, 3)))}
    assert set(documents) == set(EXPECTED_CATEGORIES) == set(SIGNAL_MAPPINGS)
    for signal_type, (category, kind) in EXPECTED_CATEGORIES.items():
        document = documents[signal_type]
        assert (document["event"]["category"], document["event"]["type"]) == (category, kind)
        assert document["rule"] == {
            "id": signal_type,
            "name": signal_type,
            "ruleset": "cowork-analytics",
            "description": SIGNAL_MAPPINGS[signal_type].description,
        }
        assert ("destination" in document) == (signal_type == "new_egress_domain")

    path_access = documents["sensitive_path_access"]
    assert path_access == {
        "@timestamp": "2026-03-03T09:00:00.000000Z",
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "module": "cowork_analytics",
            "dataset": "cowork_analytics.security_signals",
            "id": "s-0",
            "code": "sensitive_path_access",
            "category": ["file"],
            "type": ["access"],
            "severity": 73,
            "risk_score": 73,
        },
        "labels": {"severity": "high"},
        "rule": path_access["rule"],
        "message": "sensitive_path_access",
        "user": {"id": "k-ada", "email": "ada@example.com", "full_name": "Ada Lovelace"},
        "cowork_analytics": {
            "tool_name": "Read",
            "target": "~/.ssh/id_rsa",
            "source_id": "src-0",
            "activity_date": "2026-03-03",
        },
    }
    assert documents["new_egress_domain"]["destination"] == {"registered_domain": "example.org"}
    assert documents["new_mcp_server_for_person"]["event"]["severity"] == 21
    assert documents["telemetry_silent"]["event"]["severity"] == 47
    # No nulls are written: a signal without tool or target has no such keys at all.
    assert documents["otlp_settings_changed"]["cowork_analytics"] == {
        "source_id": "src-8",
        "activity_date": "2026-03-03",
    }


def test_an_unknown_signal_type_gets_the_default_mapping(tmp_path: Path) -> None:
    signal = _signal("s-new", "k-ada", "2026-03-03 10:00:00+00", signal_type="brand_new_kind")
    serving = _serving(tmp_path / "serving.duckdb", [signal])
    directory = tmp_path / "security"
    export_security_signals(serving, directory)
    (document,) = _documents(day_file(directory, date(2026, 3, 3)))
    assert document["event"]["code"] == document["rule"]["name"] == "brand_new_kind"
    assert document["event"]["category"] == list(DEFAULT_MAPPING.category)
    assert document["event"]["type"] == list(DEFAULT_MAPPING.type)
    assert document["rule"]["description"] == DEFAULT_MAPPING.description


def test_the_bytes_are_deterministic_and_sorted_by_time_then_id(tmp_path: Path) -> None:
    signals = [
        _signal("b", "k-bob", "2026-03-03 12:00:00+00", evidence="naïve café ✓ \u2028 next"),
        _signal("a", "k-ada", "2026-03-03 12:00:00+00"),
        _signal("c", "k-ada", "2026-03-03 08:30:00+01"),  # 07:30 UTC: first
    ]
    first = _serving(tmp_path / "one.duckdb", signals)
    second = _serving(tmp_path / "two.duckdb", list(reversed(signals)))
    export_security_signals(first, tmp_path / "one")
    export_security_signals(second, tmp_path / "two")
    content = day_file(tmp_path / "one", date(2026, 3, 3)).read_bytes()
    assert content == day_file(tmp_path / "two", date(2026, 3, 3)).read_bytes()
    lines = content.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 4  # one object a line, each ended by a newline
    documents = [json.loads(line) for line in lines[:-1]]
    assert [d["event"]["id"] for d in documents] == ["c", "a", "b"]
    assert documents[0]["@timestamp"] == "2026-03-03T07:30:00.000000Z"
    # Keys sorted at every level, compact, non-ASCII as UTF-8, Unicode line breaks escaped.
    assert lines[0] == json.dumps(documents[0], sort_keys=True, separators=(",", ":"))
    assert "naïve café ✓ \\u2028 next" in lines[2]


def test_only_changed_days_are_rewritten_and_vanished_days_removed(tmp_path: Path) -> None:
    serving = tmp_path / "serving.duckdb"
    directory = tmp_path / "security"
    kept = _signal("kept", "k-ada", "2026-03-01 10:00:00+00")
    changing = _signal("changing", "k-ada", "2026-03-02 10:00:00+00")
    vanishing = _signal("vanishing", "k-bob", "2026-03-03 10:00:00+00")
    _serving(serving, [kept, changing, vanishing])
    assert export_security_signals(serving, directory) == SecurityExport(written=3)
    days = {day: day_file(directory, date(2026, 3, day)) for day in (1, 2, 3)}
    before = {day: path.stat() for day, path in days.items()}
    # Not this export's files: left alone.
    unrelated = [directory / "README.txt", directory / "security-signals-20260309.jsonl"]
    for path in unrelated:
        path.write_text("forwarder notes\n")

    # The same content again: nothing is touched.
    assert export_security_signals(serving, directory) == SecurityExport(unchanged=3)
    for day, path in days.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == (
            before[day].st_ino,
            before[day].st_mtime_ns,
        )

    added = _signal("added", "k-bob", "2026-03-02 11:00:00+00")
    _serving(serving, [kept, changing, added])
    assert export_security_signals(serving, directory) == SecurityExport(
        written=1, unchanged=1, removed=1
    )
    assert (days[1].stat().st_ino, days[1].stat().st_mtime_ns) == (
        before[1].st_ino,
        before[1].st_mtime_ns,
    )
    assert days[2].stat().st_ino != before[2].st_ino
    assert [d["event"]["id"] for d in _documents(days[2])] == ["changing", "added"]
    assert not days[3].exists()
    assert all(path.exists() for path in unrelated)
    assert oct(days[2].stat().st_mode & 0o777) in {"0o640", "0o600"}  # never world-readable


def test_strict_pseudonyms_pass_through_as_served(tmp_path: Path) -> None:
    # Under strict, publish replaced the identifier columns by keyed pseudonyms and the
    # landing hashed the target: the export shows exactly what the serving file holds.
    pepper = b"test pepper"
    key, email, name = (pseudonym(pepper, value) for value in ("k-ada", ADA[3], ADA[4]))
    served_user = (key, pseudonym(pepper, ADA[1]), None, email, name, "admin")
    signal = (
        "4d5e",
        "sensitive_path_access",
        "high",
        key,
        "2026-03-03 10:00:00+00",
        "Read",
        "e3b0c44298fc1c14",
        "sensitive file read (cloud_credentials)",
        pseudonym(pepper, "call-1"),
    )
    serving = _serving(tmp_path / "serving.duckdb", [signal], users=[served_user])
    directory = tmp_path / "security"
    export_security_signals(serving, directory)
    path = day_file(directory, date(2026, 3, 3))
    (document,) = _documents(path)
    assert document["user"] == {"id": key, "email": email, "full_name": name}
    assert document["cowork_analytics"]["target"] == "e3b0c44298fc1c14"
    assert document["cowork_analytics"]["source_id"] == signal[-1]
    text = path.read_text()
    assert "ada@example.com" not in text and "Ada" not in text and "k-ada" not in text


def test_a_person_without_a_directory_entry_has_only_a_user_id(tmp_path: Path) -> None:
    serving = _serving(
        tmp_path / "serving.duckdb", [_signal("x", "k-ada", "2026-03-03 10:00:00+00")], users=[]
    )
    export_security_signals(serving, tmp_path / "security")
    (document,) = _documents(day_file(tmp_path / "security", date(2026, 3, 3)))
    assert document["user"] == {"id": "k-ada"}


def test_a_serving_file_without_the_mart_writes_nothing(tmp_path: Path) -> None:
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(serving)) as connection:
        connection.execute(USERS_DDL)
    directory = tmp_path / "security"
    directory.mkdir()
    earlier = day_file(directory, date(2026, 3, 3))
    earlier.write_text("{}\n")
    assert export_security_signals(serving, directory) == SecurityExport()
    assert [p.name for p in directory.iterdir()] == [earlier.name]

    # Without dim_users the signals are still exported, people by their key alone.
    _serving(serving, [_signal("x", "k-ada", "2026-03-04 10:00:00+00")], with_users=False)
    export_security_signals(serving, directory)
    (document,) = _documents(day_file(directory, date(2026, 3, 4)))
    assert document["user"] == {"id": "k-ada"}


def test_a_whole_publish_after_an_erasure_leaves_nothing_of_the_person(tmp_path: Path) -> None:
    """Through `publish_build(whole=True)`, as `forget` publishes after its rebuild."""
    layout = DataLayout(tmp_path)
    layout.build_database.parent.mkdir(parents=True)
    shared = _signal("shared", "k-bob", "2026-03-02 10:00:00+00")
    ada_alone = _signal("ada-alone", "k-ada", "2026-03-01 10:00:00+00")
    ada_shared_day = _signal("ada-shared", "k-ada", "2026-03-02 11:00:00+00")
    bob_alone = _signal("bob-alone", "k-bob", "2026-03-03 10:00:00+00")
    _serving(layout.build_database, [ada_alone, ada_shared_day, shared, bob_alone])
    record_build(layout, "passed")
    manifest = tmp_path / "no-manifest.json"
    published = publish_build(layout, manifest, lock_held=True)
    assert published.security == SecurityExport(written=3)
    untouched = day_file(layout.serving_security, date(2026, 3, 3)).stat()
    # A temporary file a crashed export left behind, holding the person.
    leftover = layout.serving_security / ".security-signals-2026-03-01.jsonl.tmp-999"
    leftover.write_text('{"user":{"email":"ada@example.com"}}\n')

    # The erasure removed Ada from the build (her directory entry too) and republishes whole.
    _serving(layout.build_database, [shared, bob_alone], users=[BOB])
    record_build(layout, "passed")
    republished = publish_build(layout, manifest, whole=True, lock_held=True)
    assert republished.security == SecurityExport(written=1, unchanged=1, removed=1)
    names = sorted(os.listdir(layout.serving_security))
    assert names == ["security-signals-2026-03-02.jsonl", "security-signals-2026-03-03.jsonl"]
    for name in names:
        text = (layout.serving_security / name).read_text()
        assert "k-ada" not in text and "Ada" not in text and "ada@" not in text
    assert [d["event"]["id"] for d in _documents(layout.serving_security / names[0])] == ["shared"]
    after = day_file(layout.serving_security, date(2026, 3, 3)).stat()
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch):
    """The process's local time zone is New York's (not UTC) for the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamps_are_written_in_utc_whatever_zone_they_are_read_in(new_york) -> None:
    # DuckDB hands timestamptz values over in the session's zone (the machine's by default).
    read = datetime(2026, 3, 3, 18, 30, 0, 250000, tzinfo=ZoneInfo("America/New_York"))
    assert _timestamp(read, date(2026, 3, 3)) == "2026-03-03T23:30:00.250000Z"
    assert _timestamp(None, date(2026, 3, 3)) == "2026-03-03T00:00:00.000000Z"
    # A naive time (a `timestamp` column, as the Spark target builds) is already UTC.
    assert _timestamp(datetime(2026, 3, 3, 23, 30), date(2026, 3, 3)) == (
        "2026-03-03T23:30:00.000000Z"
    )
