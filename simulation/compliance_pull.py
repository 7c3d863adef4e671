"""Pull a generated organisation's Compliance API side, as a deployment would pull the real one.

The tests, the engine comparison and its benchmark land a generated organisation whole:
its collector files, then its Compliance data through the local emulator (real HTTP,
real pagination), with "now" at the end of the simulated period so that every activity of
the period is back-filled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import PullSummary, pull_compliance
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult


def pull_generated_compliance(generated: GenerationResult, layout: DataLayout) -> PullSummary:
    """Pull everything the generated organisation's emulator serves into `layout`."""
    end = date.fromisoformat(generated.end_date)
    with (
        ComplianceEmulator(
            EmulatorData.load(Path(generated.output_dir) / "compliance")
        ) as emulator,
        ComplianceClient("test-key", emulator.url) as client,
    ):
        return pull_compliance(
            client,
            layout,
            backfill_days=generated.days + 1,
            now=datetime(end.year, end.month, end.day, 23, 59, tzinfo=UTC),
        )
