"""The erasure register: what it holds, which key it uses, and what later landings drop.

A forgotten person's identifiers are kept as keyed hashes only; every later OTel landing,
Compliance snapshot or activity page and billing day drops the records that name them, and
counts what it dropped (issue 19).
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.erasure import Identity, register_identity
from governance.erasure.aliases import COMPLIANCE_OWNER_COLUMNS, OTEL_OWNER_COLUMNS
from ingestion.anthropic_api.paging import Page
from ingestion.anthropic_api.quarantine import Quarantine
from ingestion.billing.listing import BillingPullSummary, land_days
from ingestion.billing.records import ENTERPRISE_USERS_SCHEMA
from ingestion.compliance_api.pull import PullSummary, _land_page, _snapshot
from ingestion.compliance_api.records import activity_row
from ingestion.erasure_register import (
    COMPLIANCE_USERS_STRONG_COLUMNS,
    DEVICE,
    OTEL_DEVICE_COLUMN,
    OTEL_JSON_IDENTIFIERS,
    OTEL_STRONG_COLUMNS,
    REDACTED,
    STRONG,
    ErasureRegister,
    RegisterGuard,
    RegisterKeyError,
    add_to_register,
    load_register,
    register_path,
)
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout

GONE, GONE_ID, GONE_UUID = "gone@example.com", "user_01GoneGone", "5f0c-gone-uuid"
STAYS, STAYS_ID = "stays@example.com", "user_01Stays"
DEVICE_ID = "device-of-gone-0001"
PEPPER = b"a-pepper-of-at-least-16-characters"
# 9 March 2026, 10:00 UTC (the landing quarantines times far from its clock: none here).
T0 = 1_773_050_400_000_000_000


def _identity() -> Identity:
    return Identity(
        emails={GONE}, account_ids={GONE_ID}, account_uuids={GONE_UUID}, devices={DEVICE_ID}
    )


def _registered(tmp_path: Path, pepper: bytes | None = None) -> DataLayout:
    layout = DataLayout(tmp_path / "data")
    assert register_identity(layout, _identity(), pepper) == 4
    return layout


def test_the_register_holds_keyed_hashes_owner_only_and_never_an_identifier(tmp_path) -> None:
    layout = _registered(tmp_path)
    path = register_path(layout)
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not any(value.lower() in text.lower() for value in (GONE, GONE_ID, GONE_UUID, DEVICE_ID))
    entries = json.loads(text)["entries"]
    assert sorted(entry["kind"] for entry in entries) == [DEVICE, STRONG, STRONG, STRONG]
    # Without a pepper the key is generated once, owner-only, beside the register.
    key = layout.root / "state" / ".erasure-salt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key.read_text())) == 32
    assert {entry["key"] for entry in entries} == {entries[0]["key"]}  # a fingerprint only
    assert key.read_text() not in text
    # Registering the same person again adds nothing; the key is not shown by the register.
    assert register_identity(layout, _identity(), None) == 0
    register = load_register(layout)
    assert len(register) == 4 and key.read_text() not in repr(register)
    assert register.is_erased(" GONE@Example.com ") and register.is_erased(GONE_ID)
    assert not register.is_erased(STAYS) and not register.is_erased(DEVICE_ID)  # a device


def test_an_empty_register_drops_nothing_and_costs_nothing(tmp_path) -> None:
    register = load_register(DataLayout(tmp_path))
    assert not register and len(register) == 0
    table = pa.table({"user_email": [GONE]})
    assert register.drop(table, OTEL_STRONG_COLUMNS) == (table, 0)


def test_with_the_pepper_the_hashes_need_it(tmp_path) -> None:
    layout = _registered(tmp_path, PEPPER)
    assert not (layout.root / "state" / ".erasure-salt").exists()
    assert load_register(layout, PEPPER).is_erased(GONE)
    # Unset or changed: nothing may land, rather than the person again.
    for pepper in (None, b"another-pepper-of-16-characters"):
        with pytest.raises(RegisterKeyError, match="COWORK_PII_PEPPER"):
            load_register(layout, pepper)
    # A register started without a pepper still matches once one is set.
    later = _registered(tmp_path / "later")
    add_to_register(later, {STRONG: [STAYS]}, PEPPER)
    register = load_register(later, PEPPER)
    assert register.is_erased(GONE) and register.is_erased(STAYS)


def test_records_go_by_any_identifier_and_a_device_only_where_it_names_nobody_else(
    tmp_path,
) -> None:
    register = load_register(_registered(tmp_path))
    table = pa.table(
        {
            "user_email": [GONE.upper(), STAYS, None, None, STAYS, None, None, " "],
            "user_account_id": [None, None, GONE_ID, None, None, None, None, None],
            "user_account_uuid": [None, None, None, GONE_UUID, None, None, None, None],
            "user_id": [None, None, None, None, DEVICE_ID, DEVICE_ID, "other-device", DEVICE_ID],
            "resource_json": [
                None,
                None,
                None,
                None,
                None,
                None,
                json.dumps({"enduser.id": GONE}),
                None,
            ],
            "attributes_json": [None] * 8,
        }
    )
    kept, dropped = register.drop(
        table, OTEL_STRONG_COLUMNS, OTEL_DEVICE_COLUMN, OTEL_JSON_IDENTIFIERS
    )
    assert dropped == 6
    # Someone else's record on the person's device stays theirs.
    assert kept.column("user_email").to_pylist() == [STAYS, STAYS]
    assert kept.column("user_id").to_pylist() == [None, DEVICE_ID]


def test_the_landing_columns_cover_what_forget_erases_by() -> None:
    assert set(OTEL_OWNER_COLUMNS) == {*OTEL_STRONG_COLUMNS, OTEL_DEVICE_COLUMN}
    assert set(COMPLIANCE_OWNER_COLUMNS) | {"id"} == set(COMPLIANCE_USERS_STRONG_COLUMNS)


def _attributes(**values: str) -> list[dict]:
    return [{"key": key, "value": {"stringValue": value}} for key, value in values.items()]


def _log_line(records: list[dict], resource: dict[str, str] | None = None) -> str:
    log_records = [
        {
            "timeUnixNano": str(T0 + index * 1_000_000_000),
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": _attributes(
                **{"event.name": "api_request", "session.id": f"s-{index}"}, **record
            ),
        }
        for index, record in enumerate(records)
    ]
    attributes = _attributes(**{"service.name": "claude-code", **(resource or {})})
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": attributes},
                    "scopeLogs": [{"scope": {"name": "claude_code"}, "logRecords": log_records}],
                }
            ]
        }
    )


def _metric_line(people: list[dict]) -> str:
    points = [
        {"timeUnixNano": str(T0), "asDouble": 1.5, "attributes": _attributes(**person)}
        for person in people
    ]
    metric = {"name": "claude_code.cost.usage", "unit": "USD", "sum": {"dataPoints": points}}
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {"attributes": _attributes(**{"service.name": "claude-code"})},
                    "scopeMetrics": [{"scope": {"name": "claude_code"}, "metrics": [metric]}],
                }
            ]
        }
    )


def _landed(folder: Path) -> pa.Table:
    files = sorted(folder.glob("*/*.parquet"))
    return pa.concat_tables([pq.read_table(path) for path in files]) if files else None


def test_a_later_otel_landing_drops_and_counts_the_forgotten_persons_records(tmp_path) -> None:
    layout = _registered(tmp_path)
    collector = tmp_path / "collector"
    collector.mkdir()
    lines = [
        _log_line(
            [
                {"user.email": GONE},
                {"user.email": STAYS, "user.id": DEVICE_ID},  # someone else on their device
                {"user.account_uuid": GONE_UUID},
                {"user.id": DEVICE_ID},  # the device alone: theirs
                {"user.email": STAYS},
            ]
        ),
        # A third-party deployment: the person only as `enduser.id` on the resource.
        _log_line([{"terminal.type": "vscode"}], resource={"enduser.id": GONE.upper()}),
        # A malformed line naming them (quarantined as raw text otherwise), and another's.
        f'{{"resourceLogs": [{{"user.email": "{GONE}"',
        f'{{"resourceLogs": [{{"user.email": "{STAYS}"',
    ]
    (collector / "logs.jsonl").write_text("".join(line + "\n" for line in lines))
    (collector / "metrics.jsonl").write_text(
        _metric_line([{"user.email": GONE}, {"user.account_id": GONE_ID}, {"user.email": STAYS}])
        + "\n"
    )

    summary = land_otel([collector], layout)

    events = _landed(layout.otel_events)
    assert sorted(events.column("user_email").to_pylist()) == [STAYS, STAYS]
    assert _landed(layout.otel_metrics).column("user_email").to_pylist() == [STAYS]
    assert summary.records_landed == 2 and summary.erased_records_dropped == 4
    assert summary.metric_points_landed == 1 and summary.erased_metric_points_dropped == 2
    assert summary.quarantined_lines == 1 and summary.erased_lines_dropped == 1
    quarantined = "".join(p.read_text() for p in layout.otel_quarantine.glob("*.jsonl"))
    assert STAYS in quarantined and GONE not in quarantined.lower()
    assert summary.as_dict()["erased_records_dropped"] == 4
    landed_text = " ".join(
        str(value)
        for path in (layout.root / "landing").rglob("*.parquet")
        for value in pq.read_table(path).to_pylist()
    ).lower()
    assert GONE not in landed_text and GONE_UUID not in landed_text


def test_a_landing_without_the_key_of_the_register_lands_nothing(tmp_path) -> None:
    layout = _registered(tmp_path, PEPPER)
    collector = tmp_path / "collector"
    collector.mkdir()
    (collector / "logs.jsonl").write_text(_log_line([{"user.email": GONE}]) + "\n")
    with pytest.raises(RegisterKeyError):
        land_otel([collector], layout)
    assert not layout.otel_events.exists()
    assert land_otel([collector], layout, erasure_pepper=PEPPER).erased_records_dropped == 1


def _activity(activity_id: str, actor: dict, **details: object) -> dict:
    return activity_row(
        {
            "id": activity_id,
            "created_at": "2026-03-09T10:00:00Z",
            "type": "org_user_invite_sent",
            "actor": actor,
            **details,
        },
        landed_at=datetime(2026, 3, 9, 11, tzinfo=UTC),
        latest=datetime(2026, 3, 12, tzinfo=UTC),
    )


def test_compliance_pages_and_snapshots_drop_the_person_and_redact_mentions(tmp_path) -> None:
    layout = _registered(tmp_path)
    guard, summary = RegisterGuard(layout), PullSummary()
    rows = [
        _activity("activity_1", {"type": "user_actor", "email_address": GONE}),
        _activity("activity_2", {"type": "user_actor", "user_id": GONE_ID}),
        _activity(
            "activity_3",
            {"type": "user_actor", "email_address": STAYS, "user_id": STAYS_ID},
            invitee={"email_address": GONE.upper()},
            note=f"invited {GONE} again",
        ),
    ]
    assert _land_page(layout, rows, guard, summary) == 1
    (landed,) = _landed(layout.compliance("activities")).to_pylist()
    assert landed["activity_id"] == "activity_3"
    assert json.loads(landed["details_json"]) == {
        "invitee": {"email_address": REDACTED},
        "note": f"invited {REDACTED} again",
    }
    assert summary.erased == {"activities": 2} and summary.mentions_redacted == 1

    users = [
        {"id": GONE_ID, "full_name": "Gone", "email": GONE},
        {"id": STAYS_ID, "full_name": "Stays", "email": STAYS},
    ]
    taken = datetime(2026, 3, 10, tzinfo=UTC)
    assert _snapshot(layout, "users", users, taken, guard, summary) == 1
    assert _landed(layout.compliance("users")).column("id").to_pylist() == [STAYS_ID]
    sessions = [{"session_id": "s1", "user_id": GONE_ID, "user_email": None}]
    assert _snapshot(layout, "sessions", sessions, taken, guard, summary) == 0
    assert summary.erased == {"activities": 2, "users": 1, "sessions": 1}
    assert summary.as_dict()["erased.users"] == 1


def test_quarantined_api_records_of_the_person_are_dropped_not_kept(tmp_path) -> None:
    register = load_register(_registered(tmp_path))
    counts, erased = {}, {}
    quarantine = Quarantine(
        tmp_path / "quarantine", lambda text: text, counts, register.names_anyone, erased
    )
    page = Page("/v1/x", {}, 1, None, {"data": [{"user": {"email_address": GONE}}, {"n": STAYS}]})
    quarantine.rows("users", page, lambda record: (_ for _ in ()).throw(_malformed()))
    assert counts == {"users": 1} and erased == {"users": 1}
    text = "".join(path.read_text() for path in (tmp_path / "quarantine").rglob("*.jsonl"))
    assert STAYS in text and GONE not in text


def _malformed():
    from ingestion.anthropic_api.records import MalformedRecord

    return MalformedRecord("test: every record is malformed")


def test_a_billing_day_drops_the_person_by_email_or_account_id(tmp_path) -> None:
    layout = _registered(tmp_path)
    day = date(2026, 3, 10)
    base = dict.fromkeys(ENTERPRISE_USERS_SCHEMA.names) | {
        "usage_date": day,
        "pulled_at": datetime(2026, 3, 11, tzinfo=UTC),
    }
    rows = [
        base | {"user_id": GONE_ID, "email": None},
        base | {"user_id": "user_01Renamed", "email": GONE.upper()},
        base | {"user_id": STAYS_ID, "email": STAYS},
    ]
    summary = BillingPullSummary()
    land_days(layout, "enterprise_users", rows, [day], summary, RegisterGuard(layout))
    landed = _landed(layout.billing("enterprise_users"))
    assert landed.column("user_id").to_pylist() == [STAYS_ID]
    assert summary.records == {"enterprise_users": 1}
    assert summary.erased == {"enterprise_users": 2}


def test_an_empty_register_is_not_a_register_of_anyone(tmp_path) -> None:
    assert not ErasureRegister()
    assert not load_register(DataLayout(tmp_path)).names_anyone({"email": GONE})
