"""`cowork-analytics ui` serves the Dagster UI with our code location loaded."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
JOBS_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }
"""


def test_ui_serves_the_pipeline(tmp_path: Path) -> None:
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
        start_new_session=True,
    )
    jobs: set[str] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not jobs:
            assert process.poll() is None, "the UI exited early"
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": JOBS_QUERY}, timeout=10
                ).json()
                nodes = answer["data"]["repositoriesOrError"].get("nodes") or []
                jobs = {job["name"] for node in nodes for job in node["jobs"]}
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    assert "cowork_pipeline" in jobs
    assert (tmp_path / "data" / "dagster" / "dagster.yaml").exists()
