"""B11: dbt with several threads against the DuckDB file gives the single-thread result."""

from __future__ import annotations

from pathlib import Path

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from tests.support.checksums import checksums
from warehouse.build import build_warehouse


def test_four_threads_build_what_one_thread_builds(
    small_org: GenerationResult, small_org_otel_warehouse: Path, tmp_path: Path
) -> None:
    # One thread: the shared warehouse of the same collector files, built with one thread.
    sums = {1: checksums(DataLayout(small_org_otel_warehouse / "data").build_database, ("marts",))}
    layout = DataLayout(tmp_path / "threads-4")
    land_otel([Path(small_org.otel_dir)], layout)
    result = build_warehouse(layout, publish=False, threads=4)
    assert result.success, result.failures or result.error
    # Marts only: staging keeps each landing's own landed_at.
    sums[4] = checksums(layout.build_database, schemas=("marts",))
    assert sums[1] == sums[4]
    assert sums[4]["marts.fct_api_requests"][0] > 0
