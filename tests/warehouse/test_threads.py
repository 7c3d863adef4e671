"""B11: dbt with several threads against the DuckDB file gives the single-thread result."""

from __future__ import annotations

from pathlib import Path

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from tests.support.checksums import checksums
from warehouse.build import build_warehouse


def test_four_threads_build_what_one_thread_builds(
    small_org: GenerationResult, tmp_path: Path
) -> None:
    sums = {}
    for threads in (1, 4):
        layout = DataLayout(tmp_path / f"threads-{threads}")
        land_otel([Path(small_org.otel_dir)], layout)
        result = build_warehouse(layout, publish=False, threads=threads)
        assert result.success, result.failures or result.error
        # Marts only: staging keeps each landing's own landed_at.
        sums[threads] = checksums(layout.build_database, schemas=("marts",))
    assert sums[1] == sums[4]
    assert sums[4]["marts.fct_api_requests"][0] > 0
