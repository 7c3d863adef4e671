"""The real OpenTelemetry Collector (deploy/otel-collector, `make collector`) for tests.

`collector_binary()` builds it (or skips the test when Go is not on PATH); `local_config()`
turns the shipped configuration into one for 127.0.0.1 and a temporary folder;
`RunningCollector` starts the binary, waits on its health_check endpoint, and stops it with
SIGTERM, which flushes the file exporters.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPOSITORY_ROOT / "deploy" / "otel-collector" / "config.yaml"
BINARY = REPOSITORY_ROOT / ".tools" / "bin" / "cowork-otelcol"
TOKEN_VARIABLE = "COWORK_COLLECTOR_TOKEN"
SHIPPED_OUTPUT = "/var/lib/otelcol/cowork"
# A cold build (empty Go caches) takes minutes on 2 cores; `make` rebuilds only on changes.
BUILD_TIMEOUT_SECONDS = 1200
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60


def collector_binary() -> Path:
    """`make collector`, then the binary; skips the calling test when Go is not on PATH."""
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH: the real collector (make collector) cannot be built")
    built = subprocess.run(
        ["make", "--no-print-directory", "collector"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return BINARY


@dataclass(frozen=True)
class LocalConfig:
    """A collector configuration written for a test, and where it listens and writes."""

    path: Path
    otlp_url: str
    health_url: str
    output: Path


def local_config(folder: Path, exporter: dict[str, Any] | None = None) -> LocalConfig:
    """The shipped configuration on 127.0.0.1 free ports, writing under `folder/otel`.

    OTLP/HTTP only, without TLS; bearer-token auth, the processors and the file exporters as
    shipped, each exporter's path moved into the folder and `exporter` merged into it; the
    health_check extension on; the collector's own metrics off (they would take port 8888).
    """
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    otlp_port, health_port = free_port(), free_port()
    http = config["receivers"]["otlp"]["protocols"]["http"]
    http.pop("tls")
    http["endpoint"] = f"127.0.0.1:{otlp_port}"
    config["receivers"]["otlp"]["protocols"] = {"http": http}
    output = folder / "otel"
    for settings in config["exporters"].values():
        settings.update(exporter or {})
        settings["path"] = str(output / Path(settings["path"]).relative_to(SHIPPED_OUTPUT))
    config["extensions"]["health_check"] = {"endpoint": f"127.0.0.1:{health_port}"}
    config["service"]["extensions"].append("health_check")
    config["service"]["telemetry"] = {"metrics": {"level": "none"}}
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return LocalConfig(
        path, f"http://127.0.0.1:{otlp_port}", f"http://127.0.0.1:{health_port}/", output
    )


class RunningCollector:
    """The collector binary running `config` with `token`, its log in `<config>.log`."""

    def __init__(self, binary: Path, config: LocalConfig, token: str):
        self.config = config
        self.log = config.path.with_suffix(".log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "--config", str(config.path)],
                env={**os.environ, TOKEN_VARIABLE: token},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the collector exited: {self.log.read_text()}")
            try:
                if httpx.get(self.config.health_url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the collector was not ready in time: {self.log.read_text()}")

    def wait_for_line(self, path: Path) -> None:
        """Until `path` holds a whole line: a batch exported and flushed to the file."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not (path.exists() and b"\n" in path.read_bytes()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{path} got no line: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM (the exporters flush), then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def __enter__(self) -> RunningCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


def validate(binary: Path, config: Path, token: str | None) -> subprocess.CompletedProcess:
    """`cowork-otelcol validate --config config`, with the token variable set or unset."""
    environment = {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}
    if token is not None:
        environment[TOKEN_VARIABLE] = token
    return subprocess.run(
        [str(binary), "validate", "--config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
