"""Upgrades: a newer release reads what an older one left behind (manifest store, Parquet)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion.manifest import SCHEMA_VERSION, Manifest, NewerManifestError
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from warehouse.build import build_warehouse

# The layout written by releases before the store carried a version (user_version 0).
UNVERSIONED_LAYOUT = """
create table otel_files (
    fingerprint text primary key,
    last_path text not null,
    landed_offset integer not null,
    records integer not null default 0,
    quarantined_lines integer not null default 0,
    first_landed_at text not null,
    updated_at text not null
);
create table source_state (
    name text primary key,
    value text not null,
    updated_at text not null
);
insert into otel_files values
    ('abc', '/collector/logs.jsonl', 4096, 12, 1, '2026-01-01T00:00:00', '2026-01-01T00:00:00');
insert into source_state values
    ('compliance:activities', '{"watermark": "2026-01-01T00:00:00Z"}', '2026-01-01T00:00:00');
"""


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("pragma user_version").fetchone()[0]


def test_a_store_from_before_versioning_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(UNVERSIONED_LAYOUT)
    assert _user_version(path) == 0

    manifest = Manifest(path)
    try:
        landed = manifest.file("abc")
        assert landed is not None
        assert landed.landed_offset == 4096
        assert landed.last_path == "/collector/logs.jsonl"
        assert manifest.get_state("compliance:activities") == {"watermark": "2026-01-01T00:00:00Z"}
    finally:
        manifest.close()
    assert _user_version(path) == SCHEMA_VERSION
    Manifest(path).close()  # opening an up-to-date store changes nothing
    assert _user_version(path) == SCHEMA_VERSION


def test_a_store_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    Manifest(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"pragma user_version = {SCHEMA_VERSION + 1}")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(NewerManifestError, match="written by a newer cowork-analytics"):
        Manifest(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_events_landed_by_an_older_release_still_build(
    small_org: GenerationResult, tmp_path: Path
) -> None:
    """Files landed before a column existed (here: `effort`, `agent_id`) are read with NULLs
    there, beside newer files, and every record reaches staging."""
    layout = DataLayout(tmp_path)
    land_otel([Path(small_org.otel_dir)], layout)
    files = sorted(layout.otel_events.rglob("*.parquet"))
    older = files[: max(1, len(files) // 2)]
    for path in older:
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["effort", "agent_id"]), path)
    [(landed,)] = duckdb.sql(
        f"select count(distinct event_id) from read_parquet('{layout.otel_events}/*/*.parquet',"
        " union_by_name = true)"
    ).fetchall()

    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        (staged,) = connection.execute("select count(*) from staging.stg_otel__events").fetchone()
    assert staged == landed
