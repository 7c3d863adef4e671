"""The DuckDB warehouse build runs under the memory limit of the settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from configuration.settings import Settings
from ingestion.paths import DataLayout
from orchestration.defs.resources import dbt_executable
from warehouse.build import PROJECT_DIR, dbt_arguments

SHOW_LIMIT = "select current_setting('memory_limit') as memory_limit"


def test_dbt_runs_duckdb_under_the_configured_memory_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", duckdb_memory_mib=1536)
    layout = DataLayout(settings.data_dir)
    layout.build_database.parent.mkdir(parents=True)
    arguments = dbt_arguments("show", layout, settings=settings)
    completed = subprocess.run(
        [dbt_executable(), *arguments, "--inline", SHOW_LIMIT, "--output", "json", "--quiet"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    shown = json.loads(completed.stdout)["show"]
    assert shown == [{"memory_limit": "1.5 GiB"}]
