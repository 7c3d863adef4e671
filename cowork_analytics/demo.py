"""The demo's world: a freshly simulated organisation, and its Compliance API on a local emulator.

Kept out of the command line: the CLI only prints what happens here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from configuration.settings import Secret, Settings
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult, generate
from simulation.verify import mart_mismatches

# Accepted by the emulator, never by Anthropic: the demo needs a key of the right shape.
DEMO_KEY = "sk-ant-api01-demo-emulator-key"


@dataclass(frozen=True)
class DemoOrganisation:
    """The simulated organisation, its Compliance API's address, and settings using both."""

    generated: GenerationResult
    compliance_url: str
    settings: Settings


def reset(layout: DataLayout) -> None:
    """Start from a clean slate (the serving file is replaced atomically by the run)."""
    for folder in (
        layout.simulated,
        layout.root / "landing",
        layout.root / "state",
        layout.root / "build",
    ):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def demo_organisation(
    layout: DataLayout,
    settings: Settings,
    *,
    users: int,
    days: int,
    seed: int,
    end_date: date | None,
) -> Iterator[DemoOrganisation]:
    """Simulate an organisation into the data directory and serve its Compliance side.

    The organisation's `settings` are the given ones pointed at the simulated collector
    files and at the emulator, with a throw-away key; the emulator stops when the block ends.
    """
    reset(layout)
    generated = generate(layout.simulated, seed=seed, users=users, days=days, end_date=end_date)
    emulator = ComplianceEmulator(EmulatorData.load(layout.simulated / "compliance")).start()
    try:
        demo_settings = settings.with_changes(
            configured_otel_dirs=(Path(generated.otel_dir),),
            compliance_api_key=Secret(DEMO_KEY, published=True),
            compliance_base_url=emulator.url,
        )
        yield DemoOrganisation(generated, emulator.url, demo_settings)
    finally:
        emulator.stop()


def ground_truth_mismatches(layout: DataLayout) -> list[str]:
    """Where the published marts differ from the generator's ground truth (none expected)."""
    return mart_mismatches(layout.serving_database, layout.simulated / "ground_truth")
