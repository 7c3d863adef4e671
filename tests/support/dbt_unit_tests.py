"""Run dbt's unit tests on a built warehouse (production builds leave them out)."""

from __future__ import annotations

import json
import subprocess

from ingestion.paths import DataLayout
from orchestration.defs.resources import dbt_executable
from warehouse.build import PROJECT_DIR, dbt_arguments


def run_unit_tests(layout: DataLayout, target: str) -> list[dict]:
    """`dbt test --select test_type:unit` on `layout`'s build; the unit tests' results."""
    arguments = dbt_arguments("test", layout, target=target)
    completed = subprocess.run(
        [dbt_executable(), *arguments, "--select", "test_type:unit"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    run_results = layout.dbt_target_for(target) / "run_results.json"
    results = json.loads(run_results.read_text())["results"]
    # Besides the unit tests, dbt runs the project's on-run-start hook.
    return [node for node in results if node["unique_id"].startswith("unit_test.")]


def unit_tests_in_manifest() -> set[str]:
    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    return set(manifest["unit_tests"])
