from pathlib import Path

import pytest

from simulation.compliance_emulator import ComplianceEmulator, EmulatorData


@pytest.fixture(scope="session")
def emulator_data(small_org) -> EmulatorData:
    return EmulatorData.load(Path(small_org.output_dir) / "compliance")


@pytest.fixture
def emulator(emulator_data):
    with ComplianceEmulator(emulator_data, retry_after_seconds=0) as running:
        yield running
