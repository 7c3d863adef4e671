"""B2: a record without its key fails the staging test, and no mart is built or published."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from warehouse.build import build_warehouse


def test_a_null_event_id_stops_the_marts(small_org: GenerationResult, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    otel = Path(small_org.otel_dir)
    first = tmp_path / "first"
    first.mkdir()
    logs = sorted(otel.glob("logs-*.jsonl"))
    shutil.copy(logs[0], first / logs[0].name)
    land_otel([first], layout)
    assert build_warehouse(layout).success
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
