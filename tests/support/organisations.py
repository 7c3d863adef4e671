"""The generated organisations the tests share, and how one is landed, built and published.

The session fixtures of tests/conftest.py build them once per run for every xdist worker
(`shared_organisation_warehouse`); a test module that needs its own variant (another seed,
no planted spike) calls `build_organisation_warehouse` itself.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pytest

from simulation.generate import GenerationResult, generate
from tests.support.shared import shared_directory

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


def shared_organisation_warehouse(
    tmp_path_factory: pytest.TempPathFactory, name: str, **generation: object
) -> BuiltOrganisation:
    """`build_organisation_warehouse` once per test run, shared by the xdist workers.

    Read-only: a test that changes the data directory works on `copy_data_dir`'s copy.
    """

    def build(root: Path) -> None:
        built = build_organisation_warehouse(root, **generation)
        (root / "generated.json").write_text(json.dumps(asdict(built.generated)))

    root = shared_directory(tmp_path_factory, name, build)
    generated = GenerationResult(**json.loads((root / "generated.json").read_text()))
    return BuiltOrganisation(generated, root / "data")


def copy_data_dir(built: BuiltOrganisation, target: Path) -> BuiltOrganisation:
    """A private copy of a built organisation's data directory (the generated files, only
    read, stay shared)."""
    shutil.copytree(built.data_dir, target, symlinks=True)
    return BuiltOrganisation(built.generated, target)


def build_first_file_warehouse(root: Path, otel_dir: Path) -> None:
    """The first rotated log file of a collector folder alone: copied to `root/collector`,
    landed into `root/data`, built and published."""
    from ingestion.otel.land import land_otel
    from ingestion.paths import DataLayout
    from warehouse.build import build_warehouse

    collector = root / "collector"
    collector.mkdir()
    first = sorted(otel_dir.glob("logs-*.jsonl"))[0]
    shutil.copy(first, collector / first.name)
    layout = DataLayout(root / "data")
    land_otel([collector], layout)
    result = build_warehouse(layout)
    assert result.success, result.failures or result.error


def build_otel_only_warehouse(root: Path, otel_dir: Path) -> None:
    """Every collector file of `otel_dir` landed into `root/data` (no Compliance side),
    built with one dbt thread and published."""
    from ingestion.otel.land import land_otel
    from ingestion.paths import DataLayout
    from warehouse.build import build_warehouse

    layout = DataLayout(root / "data")
    land_otel([otel_dir], layout)
    result = build_warehouse(layout, threads=1)
    assert result.success, result.failures or result.error


def build_billed_warehouse(
    root: Path, built: BuiltOrganisation, **emulator_options: object
) -> Path:
    """A copy of a built organisation's data directory with its billed side pulled from the
    billing emulator (`emulator_options`), rebuilt and published; returns the billing
    ground truth's folder (`root/billing_truth`)."""
    from ingestion.paths import DataLayout
    from simulation.billing import BillingData
    from tests.support.billing import pull_generated_billing
    from warehouse.build import build_warehouse

    billing = BillingData.load(Path(built.generated.output_dir))
    billing.write_ground_truth(root / "billing_truth")
    copied = copy_data_dir(built, root / "data")
    layout = DataLayout(copied.data_dir)
    summary = pull_generated_billing(billing, layout, **emulator_options)
    assert not summary.quarantined and not summary.notices, summary
    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    return root / "billing_truth"
