"""Erasure reaches the landed billing reports: Claude Code Analytics names people by e-mail."""

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
from ingestion.billing.records import CLAUDE_CODE_USERS_SCHEMA
from ingestion.paths import DataLayout

GONE, STAYS = "gone@example.com", "stays@example.com"


def _user_row(email: str) -> dict:
    row = dict.fromkeys(CLAUDE_CODE_USERS_SCHEMA.names)
    return row | {
        "usage_date": date(2026, 3, 10),
        "actor_type": "user_actor",
        "email": email,
        "is_remote": False,
        "pulled_at": pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py(),
    }


def test_a_forgotten_persons_billing_rows_and_quarantined_records_go(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    users = layout.billing("claude_code_users") / "usage_date=2026-03-10" / "part.parquet"
    users.parent.mkdir(parents=True)
    rows = [_user_row(GONE), _user_row(STAYS)]
    pq.write_table(pa.Table.from_pylist(rows, schema=CLAUDE_CODE_USERS_SCHEMA), users)
    quarantined = layout.billing("quarantine") / "claude_code" / "2026-03-11-page-x.jsonl"
    quarantined.parent.mkdir(parents=True)
    entries = [{"record_json": json.dumps({"email_address": who})} for who in (GONE, STAYS)]
    quarantined.write_text("".join(json.dumps(entry) + "\n" for entry in entries))

    summary = ErasureSummary(request_hash="test")
    identity = Identity(emails={GONE})
    erase_landed(layout, identity, summary)
    erase_quarantined_lines(layout, identity, summary)

    assert pq.read_table(users).column("email").to_pylist() == [STAYS]
    assert summary.rows_removed == Counter({"billing_claude_code_users": 1})
    assert GONE not in quarantined.read_text() and STAYS in quarantined.read_text()
    assert summary.quarantine_lines_removed == 1
