"""`cowork-analytics ui` serves the Dagster UI with our code location loaded, and stopping
the command stops every process it started."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cowork_analytics.services import STOP_GRACE_SECONDS
from tests.support.processes import Process, descendants
from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
JOBS_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }
"""


def test_ui_serves_the_pipeline_and_sigterm_stops_everything_it_started(tmp_path: Path) -> None:
    """GIVEN `cowork-analytics ui` serving our jobs, WHEN the command alone gets SIGTERM (as
    a supervisor or `kill` sends it), THEN it exits and nothing it started is left running.

    Regression: `dagster dev` and its web server, daemon and code server kept running."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "cowork-analytics"),
            "ui",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
        ],
        cwd=REPOSITORY_ROOT,
        env={**environment, "COWORK_OTEL_DIR": str(tmp_path / "otel")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs: set[str] = set()
    started: set[Process] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not jobs:
            assert process.poll() is None, "the UI exited early"
            started |= descendants(process.pid)
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": JOBS_QUERY}, timeout=10
                ).json()
                nodes = answer["data"]["repositoriesOrError"].get("nodes") or []
                jobs = {job["name"] for node in nodes for job in node["jobs"]}
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(2)
        started |= descendants(process.pid)  # the code server, started for the first query
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_GRACE_SECONDS + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        left = [p for p in started if p.running()]
        for leftover in left:  # stopped here so that a failure leaves nothing behind
            os.kill(leftover.pid, signal.SIGKILL)
    assert "cowork_pipeline" in jobs
    assert (tmp_path / "data" / "dagster" / "dagster.yaml").exists()
    # dagster dev, and below it the web server, the daemon and the code server
    assert len(started) >= 4, sorted(p.command for p in started)
    assert sorted(p.command for p in left) == []
    assert code == 0
