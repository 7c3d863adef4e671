"""Erasure reaches the landed billing reports: the analytics reports name people.

Claude Code Analytics names them by e-mail, Enterprise Analytics by e-mail and account id.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from governance.erasure.aliases import Identity
from governance.erasure.audit import ErasureSummary
from governance.erasure.landed import erase_landed, erase_quarantined_lines
from ingestion.billing.records import CLAUDE_CODE_USERS_SCHEMA, ENTERPRISE_USERS_SCHEMA
from ingestion.paths import DataLayout

GONE, STAYS = "gone@example.com", "stays@example.com"
GONE_ID, STAYS_ID = "user_01GoneGoneGone", "user_01StaysStays"
PULLED_AT = pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py()


def _user_row(email: str) -> dict:
    row = dict.fromkeys(CLAUDE_CODE_USERS_SCHEMA.names)
    return row | {
        "usage_date": date(2026, 3, 10),
        "actor_type": "user_actor",
        "email": email,
        "is_remote": False,
        "pulled_at": PULLED_AT,
    }


def _enterprise_row(user_id: str, email: str | None) -> dict:
    row = dict.fromkeys(ENTERPRISE_USERS_SCHEMA.names)
    return row | {
        "usage_date": date(2026, 3, 10),
        "user_id": user_id,
        "email": email,
        "cowork_message_count": 3,
        "pulled_at": PULLED_AT,
    }


def test_a_forgotten_persons_billing_rows_and_quarantined_records_go(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    users = layout.billing("claude_code_users") / "usage_date=2026-03-10" / "part.parquet"
    users.parent.mkdir(parents=True)
    rows = [_user_row(GONE), _user_row(STAYS)]
    pq.write_table(pa.Table.from_pylist(rows, schema=CLAUDE_CODE_USERS_SCHEMA), users)
    # Enterprise Analytics: by e-mail (any case), and by account id where no e-mail is given.
    enterprise = layout.billing("enterprise_users") / "usage_date=2026-03-10" / "part.parquet"
    enterprise.parent.mkdir(parents=True)
    rows = [
        _enterprise_row(GONE_ID, GONE.upper()),
        _enterprise_row(GONE_ID, None),
        _enterprise_row(STAYS_ID, STAYS),
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=ENTERPRISE_USERS_SCHEMA), enterprise)
    quarantined = layout.billing("quarantine") / "claude_code" / "2026-03-11-page-x.jsonl"
    quarantined.parent.mkdir(parents=True)
    entries = [{"record_json": json.dumps({"email_address": who})} for who in (GONE, STAYS)]
    quarantined.write_text("".join(json.dumps(entry) + "\n" for entry in entries))

    summary = ErasureSummary(request_hash="test")
    identity = Identity(emails={GONE}, account_ids={GONE_ID})
    erase_landed(layout, identity, summary)
    erase_quarantined_lines(layout, identity, summary)

    assert pq.read_table(users).column("email").to_pylist() == [STAYS]
    assert pq.read_table(enterprise).column("user_id").to_pylist() == [STAYS_ID]
    assert summary.rows_removed == Counter(
        {"billing_claude_code_users": 1, "billing_enterprise_users": 2}
    )
    assert GONE not in quarantined.read_text() and STAYS in quarantined.read_text()
    assert summary.quarantine_lines_removed == 1
