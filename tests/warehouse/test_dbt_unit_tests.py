"""dbt's unit tests (the models' logic on fixed inputs), which production builds leave out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ingestion.paths import DataLayout
from tests.support.dbt_unit_tests import run_unit_tests, unit_tests_in_manifest


def test_every_dbt_unit_test_passes_on_duckdb(
    small_org_otel_warehouse: Path, tmp_path: Path
) -> None:
    # Unit tests read the columns of their inputs from the build: a copy of a built one.
    layout = DataLayout(tmp_path / "data")
    layout.build_database.parent.mkdir(parents=True)
    shutil.copyfile(
        DataLayout(small_org_otel_warehouse / "data").build_database, layout.build_database
    )
    results = run_unit_tests(layout, "local")
    assert {node["unique_id"] for node in results} == unit_tests_in_manifest()
    assert {node["status"] for node in results} == {"pass"}


def test_a_production_build_leaves_the_unit_tests_out(small_org_otel_warehouse: Path) -> None:
    run_results = DataLayout(small_org_otel_warehouse / "data").dbt_target / "run_results.json"
    kinds = {
        node["unique_id"].split(".")[0] for node in json.loads(run_results.read_text())["results"]
    }
    assert "unit_test" not in kinds
    assert {"model", "test"} <= kinds
