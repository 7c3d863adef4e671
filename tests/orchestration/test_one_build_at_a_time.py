"""Two runs never build one warehouse at once, and a killed run blocks nothing (D3, D1).

The runs here are real Dagster runs, each in a process of its own, against a Dagster home
with the production instance settings (deploy/dagster/dagster.yaml), of a job whose one
step stands in for the build: in the `warehouse` pool, holding the build lock, as the dbt
and publish steps do. The tests assert what the runs did (when each build held the
warehouse, whether a later run finished), not which mechanism (pool, queue or lock) kept
them apart: Dagster's SQLite pool may let two steps asking at once both start.
"""

import itertools
import json
import multiprocessing
import os
import queue
import signal
import socket
import time
from pathlib import Path

import dagster as dg

from cowork_analytics.pipeline import (
    DAGSTER_SETTINGS,
    HOST_TAG,
    PROCESS_TAG,
    release_abandoned_runs,
)
from ingestion.paths import DataLayout
from orchestration.defs.resources import WAREHOUSE_POOL
from warehouse.build_state import warehouse_lock

BUILD_SECONDS = 0.3
ROUNDS = 4


class BuildConfig(dg.Config):
    data_dir: str
    seconds: float = BUILD_SECONDS


@dg.op(pool=WAREHOUSE_POOL)
def build_step(config: BuildConfig) -> None:
    """Hold the warehouse for a while, and note when (inside the lock) it did."""
    layout = DataLayout(Path(config.data_dir))
    with warehouse_lock(layout):
        started = time.time()
        (layout.root / f"holding-{os.getpid()}").touch()
        time.sleep(config.seconds)
        with (layout.root / "builds.jsonl").open("a") as log:
            log.write(json.dumps({"pid": os.getpid(), "start": started, "end": time.time()}))
            log.write("\n")


@dg.job
def build_job() -> None:
    build_step()


def _run(home: str, data_dir: str, seconds: float = BUILD_SECONDS) -> bool:
    """One run as the CLI starts it: abandoned runs released first, tagged with its process."""
    with dg.DagsterInstance.from_config(home) as instance:
        release_abandoned_runs(instance)
        result = build_job.execute_in_process(
            instance=instance,
            run_config={
                "ops": {"build_step": {"config": {"data_dir": data_dir, "seconds": seconds}}}
            },
            tags={HOST_TAG: socket.gethostname(), PROCESS_TAG: str(os.getpid())},
            raise_on_error=False,
        )
        return result.success


def _runs_in_rounds(home: str, data_dir: str, rounds: int, barrier, results) -> None:
    for _ in range(rounds):
        barrier.wait()  # both processes start a run at the same moment
        results.put(_run(home, data_dir))
        barrier.wait()  # both runs ended before the next round


def _home(tmp_path: Path) -> tuple[str, str]:
    home, data_dir = tmp_path / "dagster", tmp_path / "data"
    home.mkdir()
    data_dir.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_SETTINGS.read_text())
    # Create the storage once: two processes creating it at the same instant both migrate it.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
    return str(home), str(data_dir)


def test_two_runs_started_together_never_build_at_once(tmp_path: Path) -> None:
    """A scheduled and a manual run, started at the same instant, round after round."""
    home, data_dir = _home(tmp_path)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_runs_in_rounds, args=(home, data_dir, ROUNDS, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = []
    deadline = time.monotonic() + 300
    while len(outcomes) < 2 * ROUNDS:
        assert time.monotonic() < deadline, f"only {len(outcomes)} runs ended in time"
        try:
            outcomes.append(results.get(timeout=2))
        except queue.Empty:
            assert any(worker.is_alive() for worker in workers), "the runs' processes died"
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert all(outcomes), outcomes  # every run finished, none failed on a busy warehouse
    lines = (Path(data_dir) / "builds.jsonl").read_text().splitlines()
    builds = sorted((entry["start"], entry["end"]) for entry in map(json.loads, lines))
    assert len(builds) == 2 * ROUNDS
    overlapping = [(a, b) for a, b in itertools.pairwise(builds) if b[0] < a[1]]
    assert not overlapping, overlapping


def test_a_run_killed_while_building_blocks_no_later_run(tmp_path: Path) -> None:
    home, data_dir = _home(tmp_path)
    context = multiprocessing.get_context("spawn")
    killed = context.Process(target=_run, args=(home, data_dir, 600))
    killed.start()
    deadline = time.monotonic() + 180
    while not (Path(data_dir) / f"holding-{killed.pid}").exists():
        assert killed.is_alive() and time.monotonic() < deadline, "the run never started building"
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)  # mid-build: holding the warehouse
    killed.join()

    later = context.Process(target=_run, args=(home, data_dir))
    started = time.monotonic()
    later.start()
    later.join(timeout=120)
    assert later.exitcode == 0, "the later run did not finish: the killed one still blocks it"
    lines = (Path(data_dir) / "builds.jsonl").read_text().splitlines()
    assert [json.loads(line)["pid"] for line in lines] == [later.pid]  # it built
    assert time.monotonic() - started < 120
