"""The generated organisations the tests share, and how one is landed, built and published.

The session fixtures of tests/conftest.py build them; a test module that needs its own
variant (another seed, no planted spike) calls `build_organisation_warehouse` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from simulation.generate import GenerationResult, generate

SMALL_ORG = {
    "seed": 11,
    "users": 12,
    "days": 4,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}

# Five weeks, long enough for the cost-anomaly baseline (7 earlier days with cost) and for a
# report period with a previous one: 12 February to 18 March 2026. The cost spike is planted
# on the second-to-last day, 17 March.
PLANTED_ORG = {
    "seed": 11,
    "users": 12,
    "days": 35,
    "end_date": date(2026, 3, 18),
    "claude_code_share": 0.5,
}


@dataclass(frozen=True)
class BuiltOrganisation:
    """A generated organisation, landed (OTel and Compliance), built and published."""

    generated: GenerationResult
    data_dir: Path

    @property
    def ground_truth(self) -> Path:
        return Path(self.generated.output_dir) / "ground_truth"

    @property
    def serving_database(self) -> Path:
        return self.data_dir / "serving" / "warehouse.duckdb"

    @property
    def build_database(self) -> Path:
        return self.data_dir / "build" / "warehouse.duckdb"


def build_organisation_warehouse(root: Path, **generation: object) -> BuiltOrganisation:
    """Generate an organisation, land it and its Compliance side, build and publish it."""
    from ingestion.otel.land import land_otel
    from ingestion.paths import DataLayout
    from simulation.compliance_pull import pull_generated_compliance
    from warehouse.build import build_warehouse

    generated = generate(root / "generated", **generation)
    layout = DataLayout(root / "data")
    land_otel([Path(generated.otel_dir)], layout)
    pull_generated_compliance(generated, layout)
    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    return BuiltOrganisation(generated, layout.root)
