"""The whole pipeline on generated organisations: every mart equals the ground truth.

Each case generates a small organisation, serves its Compliance side with the emulator, runs
the pipeline job (land, pull, dbt build, publish) in a fresh process and compares the
serving database with the generator's ground truth (`simulation.verify.mart_mismatches`).
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
# The pipeline in its own process: it configures the environment (and Dagster) globally.
RUN_PIPELINE = """
import os, sys
from pathlib import Path
from cowork_analytics.pipeline import configure_environment, run_pipeline
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData

data_dir, generated = Path(sys.argv[1]), Path(sys.argv[2])
configure_environment(data_dir, [generated / "otel"])
emulator = ComplianceEmulator(EmulatorData.load(generated / "compliance")).start()
os.environ["ANTHROPIC_COMPLIANCE_BASE_URL"] = emulator.url
os.environ["ANTHROPIC_COMPLIANCE_API_KEY"] = "sk-ant-api01-test-emulator-key"
try:
    run = run_pipeline()
finally:
    emulator.stop()
print("\\n".join(run.step_failures))
sys.exit(0 if run.success else 1)
"""
# Recent periods, so the pipeline's first Compliance pull back-fills all their activities.
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def _run_pipeline(data_dir: Path, generated: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COWORK_", "DAGSTER_", "ANTHROPIC_"))
    }
    completed = subprocess.run(
        [sys.executable, "-c", RUN_PIPELINE, str(data_dir), str(generated)],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]


# Each case costs a pipeline run (~45 s on two cores), hence two: one per product, each with
# every planted quirk it can hold. Organisations mixing both products run in the demo test.
@pytest.mark.parametrize(
    ("seed", "claude_code_share", "end_date"),
    [
        # A recent period: the Compliance activity counts are compared too.
        pytest.param(21, 0.0, YESTERDAY, id="cowork only"),
        # Sonnet 5.5's cache-read price changes on 2026-10-07 (a second seed row).
        pytest.param(22, 1.0, date(2026, 10, 8), id="claude code only, across a price change"),
    ],
)
def test_marts_equal_the_ground_truth(
    tmp_path: Path, seed: int, claude_code_share: float, end_date: date
) -> None:
    """GIVEN a generated organisation with every planted quirk, WHEN the pipeline has run,
    THEN the marts match the ground truth exactly."""
    generated = generate(
        tmp_path / "generated",
        seed=seed,
        users=12,
        days=3,
        end_date=end_date,
        claude_code_share=claude_code_share,
    )
    with (Path(generated.output_dir) / "ground_truth" / "users.csv").open() as handle:
        quirks = {row["quirks"] for row in csv.DictReader(handle)} - {""}
    assert len(quirks) >= 2  # the third-party deployment and the reorganisation at least

    _run_pipeline(tmp_path / "data", tmp_path / "generated")

    mismatches = mart_mismatches(
        tmp_path / "data" / "serving" / "warehouse.duckdb", tmp_path / "generated" / "ground_truth"
    )
    assert mismatches == [], f"end date {end_date}:\n" + "\n".join(mismatches)
