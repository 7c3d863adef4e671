"""The demo's world: a freshly simulated organisation, and its Compliance API on a local emulator.

Kept out of the command line: the CLI only prints what happens here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cowork_analytics.pipeline import configure_environment
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult, generate
from simulation.verify import mart_mismatches

# Accepted by the emulator, never by Anthropic: the demo needs a key of the right shape.
DEMO_KEY = "sk-ant-api01-demo-emulator-key"
COMPLIANCE_VARIABLES = ("ANTHROPIC_COMPLIANCE_BASE_URL", "ANTHROPIC_COMPLIANCE_API_KEY")


@dataclass(frozen=True)
class DemoOrganisation:
    """The simulated organisation a demo runs on, and where its Compliance API is served."""

    generated: GenerationResult
    compliance_url: str


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
    layout: DataLayout, *, users: int, days: int, seed: int, end_date: date | None
) -> Iterator[DemoOrganisation]:
    """Simulate an organisation into the data directory and serve its Compliance side.

    While the block runs, the pipeline reads the simulated collector files, and the
    Compliance API variables point at the emulator with a throw-away key; both are put back
    when it ends.
    """
    reset(layout)
    generated = generate(layout.simulated, seed=seed, users=users, days=days, end_date=end_date)
    configure_environment(layout.root, [Path(generated.otel_dir)])
    previous = {name: os.environ.get(name) for name in COMPLIANCE_VARIABLES}
    emulator = ComplianceEmulator(EmulatorData.load(layout.simulated / "compliance")).start()
    # The pipeline's Compliance step reads its key and URL from the environment.
    os.environ["ANTHROPIC_COMPLIANCE_BASE_URL"] = emulator.url
    os.environ["ANTHROPIC_COMPLIANCE_API_KEY"] = DEMO_KEY
    try:
        yield DemoOrganisation(generated, emulator.url)
    finally:
        emulator.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ground_truth_mismatches(layout: DataLayout) -> list[str]:
    """Where the published marts differ from the generator's ground truth (none expected)."""
    return mart_mismatches(layout.serving_database, layout.simulated / "ground_truth")
