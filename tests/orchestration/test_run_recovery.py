"""Runs that die, overlap or find a damaged build file (D1, D3, B8, B9).

Every pipeline run here is a real Dagster run in a process of its own (the pipeline job,
in process, against a SQLite Dagster instance in the data directory), on the small
organisation's OTel files and without a Compliance key. The reference is one clean build
of every file (`small_org_otel_warehouse`, built once per test run); the scenarios' data
directory gets the same files in two deliveries, and its second run is SIGKILLed while dbt
builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from tests.support.checksums import checksums
from tests.support.instances import open_instance
from warehouse.build_state import latest_build

pytestmark = pytest.mark.e2e
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = """
import json, sys
from pathlib import Path
from configuration.settings import Settings
from cowork_analytics.pipeline import resume_pipeline, run_pipeline

settings = Settings(data_dir=Path(sys.argv[1]), configured_otel_dirs=(Path(sys.argv[2]),))
run = resume_pipeline(settings, sys.argv[3]) if len(sys.argv) > 3 else run_pipeline(settings)
print(json.dumps({"success": run.success, "run_id": run.run_id, "failures": run.step_failures}))
"""
DBT_STEP = "warehouse_dbt_assets"


def _environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COWORK_", "DAGSTER_", "ANTHROPIC_"))
    }


def _start(data_dir: Path, otel: Path, *resume: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PIPELINE, str(data_dir), str(otel), *resume],
        cwd=REPOSITORY_ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a SIGKILL takes dbt with it
    )


def _finish(process: subprocess.Popen) -> dict:
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    return json.loads(output.strip().splitlines()[-1])


def _steps(instance: DagsterInstance, run_id: str, event: DagsterEventType) -> dict[str, float]:
    """Step key -> timestamp of its `event` in the run."""
    return {
        record.step_key: record.timestamp
        for record in instance.all_logs(run_id, of_type=event)
        if record.step_key
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_warehouse(layout: DataLayout, reference: DataLayout) -> None:
    """Marts equal (content); staging holds the same rows (its landing provenance, such as
    `landed_at`, says when each data directory landed them, so it differs)."""
    built, expected = checksums(layout.build_database), checksums(reference.build_database)
    assert {name: value for name, value in built.items() if name.startswith("marts.")} == {
        name: value for name, value in expected.items() if name.startswith("marts.")
    }
    assert {name: rows for name, (rows, _) in built.items()} == {
        name: rows for name, (rows, _) in expected.items()
    }
    assert checksums(layout.serving_database, ("marts",)) == checksums(
        reference.serving_database, ("marts",)
    )


def _deliver(files: list[Path], otel: Path) -> None:
    otel.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy(path, otel / path.name)


@pytest.fixture(scope="module")
def collector_files(small_org: GenerationResult) -> list[Path]:
    otel = Path(small_org.otel_dir)
    files = [*sorted(otel.glob("logs-*.jsonl")), otel / "logs.jsonl"]
    files += sorted(path for path in otel.iterdir() if path.name.startswith("metrics"))
    assert len(files) >= 4
    return files


@pytest.fixture(scope="module")
def reference(small_org_otel_warehouse: Path) -> DataLayout:
    """One clean build of every file (shared by the session: read-only)."""
    return DataLayout(small_org_otel_warehouse / "data")


@pytest.fixture(scope="module")
def crashed(collector_files, tmp_path_factory) -> dict:
    """A first delivery built and published; the second run killed mid-dbt, then resumed."""
    root = tmp_path_factory.mktemp("crashed")
    layout, otel = DataLayout(root / "data"), root / "otel"
    _deliver(collector_files[:2], otel)
    first = _finish(_start(layout.root, otel))
    assert first["success"], first["failures"]
    published = _sha256(layout.serving_database)

    _deliver(collector_files[2:], otel)
    process = _start(layout.root, otel)
    # Kill once dbt has materialised a model in this run but not finished the build.
    run_id, deadline = None, time.monotonic() + 300
    with open_instance(layout.root / "dagster") as instance:
        while time.monotonic() < deadline and process.poll() is None:
            latest = latest_build(layout)
            if latest["outcome"] == "running" and latest["run"] != first["run_id"]:
                run_id = latest["run"]
                materialised = instance.all_logs(
                    run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
                )
                if any(record.step_key == DBT_STEP for record in materialised):
                    break
            time.sleep(0.2)
        assert process.poll() is None, "the run finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed = {
            "outcome": latest_build(layout)["outcome"],
            "serving_untouched": _sha256(layout.serving_database) == published,
            "status": instance.get_run_by_id(run_id).status,
        }
    # The resuming CLI marks the dead run failed and frees its pool slot first.
    resumed = _finish(_start(layout.root, otel, run_id))
    return {
        "layout": layout,
        "otel": otel,
        "killed": killed,
        "killed_run": run_id,
        "resumed": resumed,
        "first_run": first["run_id"],
    }


def test_a_sigkill_during_dbt_leaves_the_serving_file_untouched(crashed) -> None:
    """B8: the kill lands mid-build; readers still see the first delivery's warehouse."""
    assert crashed["killed"]["outcome"] == "running"
    assert crashed["killed"]["status"] == DagsterRunStatus.STARTED  # as a dead worker leaves it
    assert crashed["killed"]["serving_untouched"]


def test_the_killed_run_resumes_from_its_failure_only(crashed, reference) -> None:
    """D1: re-execution from the failure runs only the unfinished steps and ends equal to a
    clean run."""
    resumed = crashed["resumed"]
    assert resumed["success"], resumed["failures"]
    with open_instance(crashed["layout"].root / "dagster") as instance:
        assert instance.get_run_by_id(crashed["killed_run"]).status == DagsterRunStatus.FAILURE
        killed_steps = _steps(instance, crashed["killed_run"], DagsterEventType.STEP_SUCCESS)
        rerun_steps = _steps(instance, resumed["run_id"], DagsterEventType.STEP_START)
    assert "otel_landing" in killed_steps  # landed before the kill ...
    assert "otel_landing" not in rerun_steps  # ... so not landed again
    assert {DBT_STEP, "serving__warehouse"} <= set(rerun_steps)
    layout = crashed["layout"]
    assert latest_build(layout)["outcome"] == "passed"
    _same_warehouse(layout, reference)


def test_a_damaged_build_file_is_rebuilt_from_the_landed_data(crashed, reference) -> None:
    """B9: a build file DuckDB cannot open is moved aside and rebuilt in the next run."""
    layout = crashed["layout"]
    with layout.build_database.open("r+b") as handle:
        handle.write(os.urandom(16384))  # the file and database headers
    served = _sha256(layout.serving_database)
    run = _finish(_start(layout.root, crashed["otel"]))
    assert run["success"], run["failures"]
    assert list((layout.build_database.parent / "damaged").iterdir())
    _same_warehouse(layout, reference)
    assert _sha256(layout.serving_database) != served  # republished from the rebuild


def test_overlapping_runs_never_build_at_once(crashed) -> None:
    """D3: a scheduled and a manual run at once: no DuckDB lock error, both finish, and
    their builds do not overlap: every model one run's dbt built came before (or after)
    every model of the other's. (Which mechanism kept them apart, the pool or the build
    lock, is not the point: Dagster's SQLite pool may let both dbt steps start.)"""
    layout = crashed["layout"]
    first, second = _start(layout.root, crashed["otel"]), _start(layout.root, crashed["otel"])
    runs = [_finish(first), _finish(second)]
    assert all(run["success"] for run in runs), [run["failures"] for run in runs]
    with open_instance(layout.root / "dagster") as instance:
        builds = sorted(_dbt_build_span(instance, run["run_id"]) for run in runs)
    assert builds[0][1] < builds[1][0], f"the two runs' dbt builds overlapped: {builds}"


def _dbt_build_span(instance: DagsterInstance, run_id: str) -> tuple[float, float]:
    """When a run's dbt build materialised its first and its last model."""
    times = [
        record.timestamp
        for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        if record.step_key == DBT_STEP
    ]
    assert len(times) > 1, f"run {run_id} built nothing"
    return min(times), max(times)
