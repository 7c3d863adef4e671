"""The whole pipeline on generated organisations: every mart equals the ground truth.

Each case generates a small organisation (12 people, 3 days), serves its Compliance side with
the emulator, runs the pipeline job (land, pull, dbt build, publish) in a process of its own
and compares the serving database with the generator's ground truth
(`simulation.verify.mart_mismatches`). The cases' pipelines run side by side: about 80 s on
two cores, where one after the other takes 105 s.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from simulation.generate import generate
from simulation.verify import mart_mismatches

pytestmark = pytest.mark.e2e
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# The pipeline in its own process, as the CLI runs it.
RUN_PIPELINE = """
import sys
from pathlib import Path
from configuration.settings import Secret, Settings
from cowork_analytics.pipeline import run_pipeline
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData

data_dir, generated = Path(sys.argv[1]), Path(sys.argv[2])
emulator = ComplianceEmulator(EmulatorData.load(generated / "compliance")).start()
settings = Settings(
    data_dir=data_dir,
    configured_otel_dirs=(generated / "otel",),
    compliance_api_key=Secret("sk-ant-api01-test-emulator-key", published=True),
    compliance_base_url=emulator.url,
)
try:
    run = run_pipeline(settings)
finally:
    emulator.stop()
print("\\n".join(run.step_failures))
sys.exit(0 if run.success else 1)
"""
# Recent periods, so the pipeline's first Compliance pull back-fills all their activities.
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
# One organisation per product, each with every planted quirk it can hold; organisations
# mixing both products run in the demo test.
CASES = {
    # A recent period: the Compliance activity counts are compared too.
    "cowork only": {"seed": 21, "claude_code_share": 0.0, "end_date": YESTERDAY},
    # Sonnet 5.5's cache-read price changes on 2026-10-07 (a second seed row).
    "claude code only, across a price change": {
        "seed": 22,
        "claude_code_share": 1.0,
        "end_date": date(2026, 10, 8),
    },
}


@pytest.fixture(scope="module")
def pipeline_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Every case generated, then its pipeline run; the runs go side by side (two cores).

    Returns:
        (serving database, ground-truth folder) per case.
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COWORK_", "DAGSTER_", "ANTHROPIC_"))
    }
    runs, results = {}, {}
    for name, case in CASES.items():
        root = tmp_path_factory.mktemp("marts")
        generate(root / "generated", users=12, days=3, **case)
        runs[name] = subprocess.Popen(
            [sys.executable, "-c", RUN_PIPELINE, str(root / "data"), str(root / "generated")],
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        results[name] = (root / "data" / "serving" / "warehouse.duckdb", root / "generated")
    failures = []
    for name, process in runs.items():
        output, _ = process.communicate(timeout=600)
        if process.returncode:
            failures.append(f"{name}: {output[-4000:]}")
    assert not failures, "\n".join(failures)
    return results


@pytest.mark.parametrize("case", CASES)
def test_marts_equal_the_ground_truth(
    pipeline_runs: dict[str, tuple[Path, Path]], case: str
) -> None:
    """GIVEN a generated organisation with every planted quirk, WHEN the pipeline has run,
    THEN the marts match the ground truth exactly."""
    serving, generated = pipeline_runs[case]
    with (generated / "ground_truth" / "users.csv").open() as handle:
        quirks = {row["quirks"] for row in csv.DictReader(handle)} - {""}
    assert len(quirks) >= 2  # the third-party deployment and the reorganisation at least

    mismatches = mart_mismatches(serving, generated / "ground_truth")
    assert mismatches == [], f"{CASES[case]}:\n" + "\n".join(mismatches)
