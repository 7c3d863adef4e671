"""The real OpenTelemetry Collector (deploy/otel-collector, `make collector`) for tests.

`collector_binary()` builds it (or skips the test when Go is not on PATH); `local_config()`
turns the shipped configuration into one for 127.0.0.1 and a temporary folder;
`RunningCollector` starts the binary, waits on its health_check endpoint, and stops it with
SIGTERM, which flushes the file exporters; started again on the same configuration, it
carries on in the same files. `export_requests()` and `post_export()` send it the
generator's records the way Cowork and Claude Code export them.
"""

from __future__ import annotations

import gzip
import itertools
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
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ingestion.otel.otlp_json import encode_logs_json, encode_metrics_json
from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPOSITORY_ROOT / "deploy" / "otel-collector" / "config.yaml"
BINARY = REPOSITORY_ROOT / ".tools" / "bin" / "cowork-otelcol"
TOKEN_VARIABLE = "COWORK_COLLECTOR_TOKEN"
TEST_TOKEN = "test-collector-token"
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
    folders: tuple[Path, ...]  # each file exporter's folder under `output`
    feature_gates: tuple[str, ...] = ()

    def written_bytes(self) -> dict[Path, int]:
        """Bytes in the files under each exporter's folder, rotated and grouped included."""
        return {
            folder: sum(_size(path) for path in folder.rglob("*") if path.is_file())
            for folder in self.folders
        }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed by a rotation since listed: counted next time
        return 0


def local_config(
    folder: Path,
    exporter: dict[str, Any] | None = None,
    *,
    batch: dict[str, Any] | None = None,
    group_by: str | None = None,
    feature_gates: tuple[str, ...] = (),
) -> LocalConfig:
    """The shipped configuration on 127.0.0.1 free ports, writing under `folder/otel`.

    OTLP/HTTP only, without TLS; bearer-token auth, the processors and the file exporters as
    shipped, each exporter's path moved into the folder and `exporter` merged into it; the
    health_check extension on a free port; the collector's own metrics off (they would take port 8888).

    Args:
        folder: where the configuration, its log and the output go.
        exporter: settings merged into every file exporter's (`format`, `rotation`, ...).
        batch: settings merged into the batch processor's.
        group_by: a resource attribute: each exporter writes `<its folder>/<value>/<name>`.
        feature_gates: passed to the collector as `--feature-gates`.
    """
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    otlp_port, health_port = free_port(), free_port()
    http = config["receivers"]["otlp"]["protocols"]["http"]
    http.pop("tls")
    http["endpoint"] = f"127.0.0.1:{otlp_port}"
    config["receivers"]["otlp"]["protocols"] = {"http": http}
    config["processors"]["batch"].update(batch or {})
    output = folder / "otel"
    folders = []
    for settings in config["exporters"].values():
        settings.update(exporter or {})
        path = output / Path(settings["path"]).relative_to(SHIPPED_OUTPUT)
        folders.append(path.parent)
        if group_by is not None:
            path = path.parent / "*" / path.name
            settings["group_by"] = {"enabled": True, "resource_attribute": group_by}
        settings["path"] = str(path)
    config["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{health_port}"
    config["service"]["telemetry"] = {"metrics": {"level": "none"}}
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return LocalConfig(
        path,
        f"http://127.0.0.1:{otlp_port}",
        f"http://127.0.0.1:{health_port}/",
        output,
        tuple(folders),
        feature_gates,
    )


class RunningCollector:
    """The collector binary running `config` with `token`, its log in `<config>.log`.

    The log is appended to: a restart's log follows the first run's.
    """

    def __init__(self, binary: Path, config: LocalConfig, token: str):
        self.binary = binary
        self.config = config
        self.token = token
        self.log = config.path.with_suffix(".log")
        self._start()

    def _start(self) -> None:
        gates = ",".join(self.config.feature_gates)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "--config",
                    str(self.config.path),
                    *([f"--feature-gates={gates}"] if gates else []),
                ],
                env={**os.environ, TOKEN_VARIABLE: self.token},
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

    def wait_for_writes(self, since: dict[Path, int]) -> None:
        """Until each folder in `since` (from `written_bytes()`) holds more bytes than there."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            now = self.config.written_bytes()
            if all(now[folder] > before for folder, before in since.items()):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the collector wrote nothing new: {self.log.read_text()}")
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

    def restart(self) -> int:
        """Stop (SIGTERM: the exporters flush) and start again; the stop's exit code."""
        exit_code = self.stop()
        self._start()
        return exit_code

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


def export_requests(path: Path, message_type: type[Message], writes_per_request: int) -> list:
    """The generator's writes in a length-prefixed protobuf file, `writes_per_request` in
    each request (their resources one after another), so a request holds several people."""
    data, position, requests = path.read_bytes(), 0, []
    for index in itertools.count():
        if position >= len(data):
            return requests
        if index % writes_per_request == 0:
            requests.append(message_type())
        size = int.from_bytes(data[position : position + 4], "big")
        requests[-1].MergeFromString(data[position + 4 : position + 4 + size])
        position += 4 + size


def post_export(
    client: httpx.Client,
    url: str,
    message: Message,
    body: tuple[str, bool] = ("proto", False),
    token: str = TEST_TOKEN,
) -> int:
    """POST an OTLP export request with the bearer token; the status code.

    Args:
        client: the HTTP client.
        url: the collector's `/v1/logs` or `/v1/metrics`.
        message: an `Export{Logs,Metrics}ServiceRequest`.
        body: (`proto` or `json` encoding, whether gzipped).
        token: the bearer token.
    """
    encoding, compressed = body
    if encoding == "proto":
        content, content_type = message.SerializeToString(), "application/x-protobuf"
    else:
        encode = (
            encode_logs_json
            if isinstance(message, ExportLogsServiceRequest)
            else encode_metrics_json
        )
        content, content_type = encode(message).encode(), "application/json"
    headers = {"content-type": content_type, "authorization": f"Bearer {token}"}
    if compressed:
        content, headers["content-encoding"] = gzip.compress(content), "gzip"
    return client.post(url, content=content, headers=headers).status_code
