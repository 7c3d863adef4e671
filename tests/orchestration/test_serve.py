"""`cowork-analytics serve`: the daemon and the web server as one service, and the
production files in deploy/ (instance settings, systemd units)."""

from __future__ import annotations

import configparser
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from orchestration.defs.jobs import BUILDS_WAREHOUSE_TAG
from tests.support.instances import open_instance
from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY_ROOT / "deploy"
HEALTH_QUERY = """
{
  repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
}
"""


def _children(pid: int) -> set[int]:
    found = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return {int(line) for line in found.stdout.split()}


def test_serve_runs_the_daemon_and_the_ui_and_stops_both(tmp_path: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "COWORK_"))}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "cowork-analytics"),
            "serve",
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
    healthy: set[str] = set()
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (jobs and {"SCHEDULER", "SENSOR"} <= healthy):
            assert process.poll() is None, "serve exited early"
            children |= _children(process.pid)
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": HEALTH_QUERY}, timeout=10
                ).json()["data"]
                nodes = answer["repositoriesOrError"].get("nodes") or []
                jobs = {job["name"] for node in nodes for job in node["jobs"]}
                statuses = answer["instance"]["daemonHealth"]["allDaemonStatuses"]
                healthy = {status["daemonType"] for status in statuses if status["healthy"]}
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                pass
            time.sleep(2)
        assert "cowork_pipeline" in jobs
        assert {"SCHEDULER", "SENSOR"} <= healthy  # the daemon is up and beating
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
    assert len(children) >= 2
    for child in children:  # no orphaned daemon or web server
        assert (
            not Path(f"/proc/{child}").exists()
            or "zombie" in Path(f"/proc/{child}/status").read_text().lower()
        )
    # The data directory's instance took the production settings.
    with open_instance(tmp_path / "data" / "dagster") as instance:
        assert instance.run_retries_enabled
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        # one pipeline run at a time leaves the queue (the others show as queued)
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": BUILDS_WAREHOUSE_TAG, "limit": 1} in limits


def test_systemd_units_run_the_installed_tools_on_our_code_location() -> None:
    for name in ("cowork-analytics-daemon.service", "cowork-analytics-webserver.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(DEPLOY / "systemd" / name)
        service = unit["Service"]
        command = shlex.split(service["ExecStart"])
        assert command[0].startswith("/opt/cowork-analytics/.venv/bin/dagster-")
        assert (Path(sys.executable).parent / Path(command[0]).name).exists()
        assert command[-2:] == ["-m", "orchestration.definitions"]
        assert service["EnvironmentFile"] == "/etc/cowork-analytics/env"
        assert service["Restart"] == "on-failure"
        assert unit["Install"]["WantedBy"] == "multi-user.target"
    settings = (DEPLOY / "systemd" / "cowork-analytics.env").read_text()
    assert "DAGSTER_HOME=" in settings and "COWORK_DATA_DIR=" in settings
