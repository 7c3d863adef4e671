"""The real OpenTelemetry Collector in the loop: OTLP/HTTP in, `format: json` files out, landed.

The generator's organisation is sent to the collector built from deploy/otel-collector, the
way Cowork and Claude Code export (protobuf and JSON bodies, some gzipped, several people
per request, the bearer token), with the shipped configuration moved to 127.0.0.1 and a
temporary folder. The collector is stopped with SIGTERM (its exporters flush), its files
are landed, and the landing must equal what was sent; the same requests landed straight
from the generator's files are the reference.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from ingestion.otel.framing import Framing, detect_file_framing
from ingestion.otel.land import LandingSummary, land_otel
from ingestion.otel.otlp_json import encode_logs_json, encode_metrics_json
from ingestion.paths import DataLayout
from simulation.collector import FileFormat
from simulation.generate import GenerationResult, generate
from tests.support.collector import (
    SHIPPED_CONFIG,
    RunningCollector,
    collector_binary,
    local_config,
    validate,
)
from tests.support.collector_files import value_of

pytestmark = pytest.mark.e2e

TOKEN = "test-collector-token"
# 8 people (half on Claude Code, so metrics too) over 2 days: about 700 events in some 130
# generator writes, sent as 17 requests of 8 writes each: a second of collector time.
ORGANISATION = {
    "seed": 5,
    "users": 8,
    "days": 2,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}
# (body encoding, gzip) taken in turn, request by request.
BODIES = (("proto", False), ("proto", True), ("json", False), ("json", True))
WRITES_PER_REQUEST = 8
FILES = ("logs/logs.jsonl", "metrics/metrics.jsonl")
PROVENANCE = "source_file_fingerprint, source_byte_offset, landed_at"


@dataclass(frozen=True)
class Run:
    """What was sent, what the collector answered and wrote, and both landings."""

    generated: GenerationResult
    logs: list[ExportLogsServiceRequest] = field(repr=False)
    metrics: list[ExportMetricsServiceRequest] = field(repr=False)
    statuses: Counter
    unauthenticated_status: int
    exit_code: int
    output: Path
    landed: DataLayout
    summary: LandingSummary
    reference: DataLayout


def _requests(path: Path, message_type: type[Message]) -> list:
    """The generator's writes in a length-prefixed protobuf file, `WRITES_PER_REQUEST` in
    each request (their resources one after another), so a request holds several people."""
    data, position, requests = path.read_bytes(), 0, []
    for index in itertools.count():
        if position >= len(data):
            return requests
        if index % WRITES_PER_REQUEST == 0:
            requests.append(message_type())
        size = int.from_bytes(data[position : position + 4], "big")
        requests[-1].MergeFromString(data[position + 4 : position + 4 + size])
        position += 4 + size


def _post(client: httpx.Client, url: str, message: Message, body: tuple[str, bool]) -> int:
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
    headers = {"content-type": content_type, "authorization": f"Bearer {TOKEN}"}
    if compressed:
        content, headers["content-encoding"] = gzip.compress(content), "gzip"
    return client.post(url, content=content, headers=headers).status_code


@pytest.fixture(scope="module")
def binary() -> Path:
    return collector_binary()


@pytest.fixture(scope="module")
def run(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("real_collector")
    generated = generate(
        folder / "generated",
        rotate_megabytes=1000,
        file_format=FileFormat(encoding="proto"),
        **ORGANISATION,
    )
    sent = Path(generated.otel_dir)
    logs = _requests(sent / "logs.pb", ExportLogsServiceRequest)
    metrics = _requests(sent / "metrics.pb", ExportMetricsServiceRequest)
    config = local_config(folder)
    statuses: Counter = Counter()
    with RunningCollector(binary, config, TOKEN) as collector, httpx.Client(timeout=30) as client:
        unauthenticated = client.post(
            f"{config.otlp_url}/v1/logs",
            content=logs[0].SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        ).status_code
        # The first half is written while the collector runs (batch timeout, flush interval),
        # the second half when SIGTERM flushes it.
        for second_half in (False, True):
            for path, messages in (("/v1/logs", logs), ("/v1/metrics", metrics)):
                for index, message in enumerate(messages):
                    if (index >= len(messages) // 2) is second_half:
                        body = BODIES[index % len(BODIES)]
                        status = _post(client, config.otlp_url + path, message, body)
                        statuses[path, *body, status] += 1
            if not second_half:
                for name in FILES:
                    collector.wait_for_line(config.output / name)
        exit_code = collector.stop()
    landed = DataLayout(folder / "data")
    summary = land_otel([config.output], landed)
    reference = DataLayout(folder / "reference")
    land_otel([sent], reference)
    return Run(
        generated,
        logs,
        metrics,
        statuses,
        unauthenticated,
        exit_code,
        config.output,
        landed,
        summary,
        reference,
    )


def _sql(layout: DataLayout, query: str) -> list[tuple]:
    """`query` over `events` and `metrics`, the layout's landed Parquet."""
    otel = layout.root / "landing" / "otel"
    with duckdb.connect() as connection:
        for dataset in ("events", "metrics"):
            connection.execute(
                f"create view {dataset} as "
                f"select * from read_parquet('{otel / dataset}/*/*.parquet', union_by_name = true)"
            )
        return connection.execute(query).fetchall()


def _attribute(attributes, key: str):
    return next(getattr(a.value, a.value.WhichOneof("value")) for a in attributes if a.key == key)


def test_shipped_config_validates(binary: Path) -> None:
    assert validate(binary, SHIPPED_CONFIG, TOKEN).returncode == 0
    refused = validate(binary, SHIPPED_CONFIG, None)  # the token comes from the environment
    assert refused.returncode != 0
    assert "no bearer token provided" in refused.stderr


def test_collector_accepts_every_body_and_stops_cleanly(run: Run) -> None:
    assert run.unauthenticated_status == 401
    assert {status for *_, status in run.statuses} == {200}
    assert {(path, *body) for path, *body, _ in run.statuses} == {
        (path, *body) for path in ("/v1/logs", "/v1/metrics") for body in BODIES
    }
    people = [
        {_attribute(r.resource.attributes, "process.owner") for r in m.resource_logs}
        for m in run.logs
    ]
    assert max(map(len, people)) >= 2  # several people in a request
    assert run.exit_code == 0


def _people_in_line(resources: list[dict]) -> set[object]:
    """The `process.owner`s of a written line's OTLP/JSON resources."""
    return {
        value_of(item["value"])
        for resource in resources
        for item in resource["resource"]["attributes"]
        if item["key"] == "process.owner"
    }


def test_collector_writes_one_json_line_per_batch(run: Run) -> None:
    files = sorted(path.relative_to(run.output).as_posix() for path in run.output.rglob("*"))
    assert files == ["logs", FILES[0], "metrics", FILES[1]]
    for name, envelope in zip(FILES, ("resourceLogs", "resourceMetrics"), strict=True):
        path = run.output / name
        assert detect_file_framing(path) is Framing.JSON_LINES
        data = path.read_bytes()
        assert data.endswith(b"\n")
        lines = data.split(b"\n")[:-1]
        messages = [json.loads(line) for line in lines]
        assert messages and all(message.keys() == {envelope} for message in messages)
        # The batch processor merges requests: a line while running, one at the stop, each
        # holding many requests and people.
        assert 2 <= len(lines) < len(run.logs if envelope == "resourceLogs" else run.metrics)
        assert min(len(_people_in_line(message[envelope])) for message in messages) >= 2


def test_landed_events_equal_what_was_sent(run: Run) -> None:
    assert run.summary.records_landed == run.generated.events
    assert run.summary.quarantined_lines == run.summary.quarantined_records == 0
    assert run.summary.records_with_rejected_values == 0
    assert not run.landed.otel_quarantine.exists()
    ids = "select event_id from events order by event_id"
    assert _sql(run.landed, ids) == _sql(run.reference, ids)
    assert len(set(_sql(run.landed, ids))) == run.generated.events
    sent_records = [
        record
        for message in run.logs
        for resource_logs in message.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]
    sent_names = Counter(_attribute(record.attributes, "event.name") for record in sent_records)
    assert dict(_sql(run.landed, "select event_name, count(*) from events group by all")) == (
        sent_names
    )
    # Every cost bit for bit: the exact decimal value of each double, summed.
    sent_cost = sum(
        Decimal(_attribute(record.attributes, "cost_usd"))
        for record in sent_records
        if any(a.key == "cost_usd" for a in record.attributes)
    )
    landed_costs = _sql(run.landed, "select cost_usd from events where cost_usd is not null")
    assert sum(Decimal(cost) for (cost,) in landed_costs) == sent_cost
    assert sent_cost.quantize(Decimal("1e-9")) == Decimal(run.generated.total_cost_usd)
    rows = f"select * exclude ({PROVENANCE}) from events order by event_id"
    assert _sql(run.landed, rows) == _sql(run.reference, rows)


def test_landed_metric_points_equal_what_was_sent(run: Run) -> None:
    sent_points = sum(
        len(metric.sum.data_points)
        for message in run.metrics
        for resource_metrics in message.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )
    assert sent_points > 0
    assert run.summary.metric_points_landed == sent_points
    rows = f"select * exclude ({PROVENANCE}) from metrics order by metric_point_id"
    landed = _sql(run.landed, rows)
    assert len(landed) == sent_points
    assert landed == _sql(run.reference, rows)
