"""B2: a record without its key fails the staging test, and no mart is built or published."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from ingestion.paths import DataLayout
from warehouse.build import build_warehouse


def test_a_null_event_id_stops_the_marts(first_file_warehouse: Path, tmp_path: Path) -> None:
    # A copy of the warehouse built and published from one collector file.
    shutil.copytree(first_file_warehouse / "data", tmp_path / "data")
    layout = DataLayout(tmp_path / "data")
    published = layout.serving_database.stat().st_mtime_ns

    # A landed file whose records lost their key (written by something else than our
    # landing, which never does this).
    landed = sorted(layout.otel_events.glob("*/*.parquet"))[0]
    broken = landed.with_name("broken.parquet")
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * replace (null::varchar as event_id, now() as landed_at)"
            f" from read_parquet('{landed}') limit 3) to '{broken}' (format parquet)"
        )
    result = build_warehouse(layout)
    assert not result.success
    assert any(
        failure.startswith("not_null_stg_otel__events_event_id") for failure in result.failures
    )
    assert result.models["skipped"] > 0  # everything downstream of staging
    assert layout.serving_database.stat().st_mtime_ns == published
