"""Resources shared by the assets: where data lives, where OTel files arrive, and dbt."""

import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from ingestion.otel.privacy import PrivacyMode
from ingestion.paths import DataLayout
from orchestration.defs.dbt.project import dbt_project
from orchestration.lib import environment

# The Dagster pool of every step that writes or publishes the DuckDB build database.
WAREHOUSE_POOL = "warehouse"


class DataDirResource(dg.ConfigurableResource):
    """The data directory (`COWORK_DATA_DIR`): landing, state, build and serving files."""

    path: str

    def layout(self) -> DataLayout:
        """Paths under the data directory."""
        return DataLayout(Path(self.path))


class FreshnessResource(dg.ConfigurableResource):
    """Thresholds of the freshness checks, in hours (change them in the Dagster config)."""

    warn_after_hours: float = 2.0
    fail_after_hours: float = 24.0


class OtelInputResource(dg.ConfigurableResource):
    """Where the collector writes (`COWORK_OTEL_DIR`) and how its content is kept.

    `privacy` is `COWORK_PRIVACY`; the quarantine rates are the check's thresholds.
    """

    paths: list[str]
    privacy: str = "standard"
    quarantine_warn_rate: float = 0.001
    quarantine_error_rate: float = 0.05

    def folders(self) -> list[Path]:
        """The input folders."""
        return [Path(path) for path in self.paths]

    def privacy_mode(self) -> PrivacyMode:
        """The parsed privacy mode (a clear error for an unknown one)."""
        return PrivacyMode.parse(self.privacy)


def dbt_executable() -> str:
    """The dbt installed beside this Python, so it works whether or not the venv is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_resources() -> dict[str, object]:
    """Resources configured from the environment."""
    return {
        "data_dir": DataDirResource(path=str(environment.data_dir())),
        "otel_input": OtelInputResource(
            paths=[str(path) for path in environment.otel_dirs()],
            privacy=environment.privacy_mode(),
        ),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "freshness": FreshnessResource(),
    }
