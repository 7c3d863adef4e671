"""Where everything lives under the data directory (`COWORK_DATA_DIR`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The dbt profile target of the DuckDB build database (profiles.yml); `spark` is the other.
LOCAL_TARGET = "local"


@dataclass(frozen=True)
class DataLayout:
    """Paths under one data directory; nothing here reads the environment."""

    root: Path

    @property
    def otel_events(self) -> Path:
        """Landed OTel log records, one Parquet dataset partitioned by `event_date`."""
        return self.root / "landing" / "otel" / "events"

    @property
    def otel_metrics(self) -> Path:
        """Landed OTel metric data points, partitioned by `point_date`."""
        return self.root / "landing" / "otel" / "metrics"

    @property
    def otel_content(self) -> Path:
        """Prompt, response and tool-input text (privacy `standard`): owner-only files."""
        return self.root / "landing" / "otel" / "content"

    @property
    def otel_quarantine(self) -> Path:
        """Lines that could not be landed, with file, offset and error."""
        return self.root / "landing" / "otel" / "quarantine"

    def compliance(self, entity: str) -> Path:
        """Landed Compliance API records of one entity (activities, users, ...)."""
        return self.root / "landing" / "compliance" / entity

    def billing(self, report: str) -> Path:
        """Landed billing reports (cost_totals, cost_breakdown, claude_code_*, quarantine)."""
        return self.root / "landing" / "billing" / report

    @property
    def manifest(self) -> Path:
        """The manifest store: which input bytes have been landed."""
        return self.root / "state" / "manifest.sqlite"

    @property
    def simulated(self) -> Path:
        """Where `generate` and the demo write a simulated organisation."""
        return self.root / "simulated"

    @property
    def build_database(self) -> Path:
        """The DuckDB file dbt builds into; readers never open it."""
        return self.root / "build" / "warehouse.duckdb"

    @property
    def dbt_target(self) -> Path:
        """The target folder of dbt builds of this data dir (manifest, run_results.json)."""
        return self.root / "build" / "dbt-target"

    @property
    def dbt_logs(self) -> Path:
        """The log folder of dbt builds of this data dir."""
        return self.root / "build" / "dbt-logs"

    @property
    def spark_build(self) -> Path:
        """Spark's build (the `spark` dbt target): its catalog, tables and dbt state."""
        return self.root / "build" / "spark"

    @property
    def spark_warehouse(self) -> Path:
        """Spark's tables: a folder per schema (`marts.db`), Parquet files per table."""
        return self.spark_build / "warehouse"

    def dbt_target_for(self, target: str) -> Path:
        """The dbt target folder of a profile target.

        Spark's manifest differs from DuckDB's (other materialisations), and the serving
        publish reads DuckDB's, so Spark's lives under `build/spark`.
        """
        return self.dbt_target if target == LOCAL_TARGET else self.spark_build / "dbt-target"

    @property
    def serving_database(self) -> Path:
        """The published copy that BI tools read."""
        return self.root / "serving" / "warehouse.duckdb"

    @property
    def serving_parquet(self) -> Path:
        """Every mart as Parquet, for BI tools that read files."""
        return self.root / "serving" / "parquet"

    @property
    def serving_security(self) -> Path:
        """The security signals as ECS JSON lines, one file per day, for a SIEM forwarder."""
        return self.root / "serving" / "security"
