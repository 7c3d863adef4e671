"""The alias search of an erasure: it reads the landing as the warehouse does, and fails
loudly rather than finding fewer aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.erasure import aliases
from governance.erasure.aliases import AliasSearchError, resolve_identity
from ingestion.compliance_api.schemas import SNAPSHOT_SCHEMAS
from ingestion.paths import DataLayout

TAKEN_AT = datetime(2026, 3, 10, tzinfo=UTC)


def _land_directory(layout: DataLayout) -> None:
    """A Compliance directory snapshot of two people, and no group members at all."""
    rows = [
        {"id": "user_01ada", "full_name": "Ada Lovelace", "email": "Ada@Example.com"},
        {"id": "user_02bob", "full_name": "Bob Stone", "email": "bob@example.com"},
    ]
    schema = SNAPSHOT_SCHEMAS["users"]
    table = pa.Table.from_pylist([{**row, "snapshot_at": TAKEN_AT} for row in rows], schema=schema)
    target = layout.compliance("users") / "snapshot_date=2026-03-10" / "snapshot.parquet"
    target.parent.mkdir(parents=True)
    pq.write_table(table, target)


def test_the_directory_resolves_aliases_without_group_members(tmp_path: Path) -> None:
    # Regression: users and members were read together with `coalesce(id, user_id)`; with no
    # members landed that failed to bind and was taken for "no aliases".
    layout = DataLayout(tmp_path)
    _land_directory(layout)
    identity = resolve_identity(layout, "ada@example.com")
    assert identity.account_ids == {"user_01ada"}
    assert identity.full_names == {"Ada Lovelace"}
    assert "bob@example.com" not in identity.emails


def test_an_alias_search_that_does_not_settle_raises(tmp_path: Path, monkeypatch) -> None:
    layout = DataLayout(tmp_path)
    _land_directory(layout)
    # The e-mail leads to the account id in the first round: one round cannot settle.
    monkeypatch.setattr(aliases, "MAX_ROUNDS", 1)
    with pytest.raises(AliasSearchError, match="1 rounds"):
        resolve_identity(layout, "ada@example.com")


def test_a_column_no_landing_has_raises(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    _land_directory(layout)
    files = list(layout.compliance("users").glob("*/*.parquet"))
    with duckdb.connect() as connection, pytest.raises(AliasSearchError, match="user_email"):
        aliases._read_landed(connection, ("compliance_api__users",), files, ["user_email"], "true")
