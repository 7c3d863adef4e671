"""The real OpenTelemetry Collector in the loop: OTLP/HTTP in, exporter files out, landed.

The generator's organisation is sent to the collector built from deploy/otel-collector, the
way Cowork and Claude Code export (protobuf and JSON bodies, some gzipped, several people
per request, the bearer token), with the shipped configuration moved to 127.0.0.1 and a
temporary folder, once per `file`-exporter variant: `format: json` as shipped, `format:
proto`, `compression: zstd` with either, the native-compression feature gate, a 1 MB
`rotation`, `group_by`, and a restart. The requests go in rounds; between rounds the files
are landed while the collector runs (or it is restarted), and at the end it is stopped with
SIGTERM (its exporters flush) and landed once more. All the landings together must equal
what was sent, nothing quarantined; the same requests landed straight from the generator's
files are the reference. What each variant writes on disk is read back by the exporter's
own rules (its README and codec), independently of the landing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import zstandard
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from ingestion.otel.framing import Framing, detect_file_framing, is_rotated
from ingestion.otel.land import LandingSummary, land_otel
from ingestion.otel.otlp_json import encode_logs_json, encode_metrics_json
from ingestion.paths import DataLayout
from simulation.collector import FileFormat
from simulation.generate import GenerationResult, generate
from tests.support.collector import (
    SHIPPED_CONFIG,
    TEST_TOKEN,
    RunningCollector,
    collector_binary,
    export_requests,
    local_config,
    post_export,
    validate,
)
from tests.support.collector_files import value_of

pytestmark = pytest.mark.e2e

# 8 people (half on Claude Code, so metrics too) over 2 days: about 700 events in some 130
# generator writes, sent as 17 requests of 8 writes each: a second of collector time.
ORGANISATION = {
    "seed": 5,
    "users": 8,
    "days": 2,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}
# 30 people over 3 days: about 3,700 events, some 8 MB of OTLP/JSON: 8 rotations at 1 MB.
LARGE_ORGANISATION = ORGANISATION | {"users": 30, "days": 3}
# (body encoding, gzip) taken in turn, request by request.
BODIES = (("proto", False), ("proto", True), ("json", False), ("json", True))
WRITES_PER_REQUEST = 8
PROVENANCE = "source_file_fingerprint, source_byte_offset, landed_at"
NATIVE_COMPRESSION = "exporter.file.nativeCompression"
# The shipped batch timeout (5 s) is kept for `format: json`, whose lines are checked
# against the batches; the other variants export a batch within 0.2 s, so that each run
# takes a second or two.
FAST_BATCH = {"timeout": "200ms"}
LIVE_FILES = frozenset({"logs/logs.jsonl", "metrics/metrics.jsonl"})
# timberjack's backup name: <name>-<UTC time, milliseconds>-<reason><ext>.
ROTATION_TIME = re.compile(r"-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}-")
ENVELOPES = {"logs": "resourceLogs", "metrics": "resourceMetrics"}
REQUEST_TYPES = {"logs": ExportLogsServiceRequest, "metrics": ExportMetricsServiceRequest}


@dataclass(frozen=True)
class Variant:
    """A file-exporter setting: how the collector is configured and driven, what it writes.

    Attributes:
        name: the test id.
        exporter: merged into both file exporters' settings.
        files: the files written, relative to the output folder, a rotation time as `<time>`.
        framing: every file's framing, as the landing detects it.
        payload: each message as written: `json` (a line), `proto`, `zstd json` or `zstd
            proto` (length-prefixed); inside the zstd stream for `ZSTD_STREAM` files.
        feature_gates: passed to the collector.
        group_by: the resource attribute `group_by` splits the files by.
        batch: merged into the batch processor's settings.
        organisation: what is generated and sent.
        rounds: the requests go in this many rounds; after each but the last the collector's
            writes are awaited and its files landed while it runs.
        restarts: rounds after which the collector is restarted instead (SIGTERM, flush,
            start), then landed.
    """

    name: str
    exporter: dict[str, Any]
    files: frozenset[str]
    framing: Framing
    payload: str
    feature_gates: tuple[str, ...] = ()
    group_by: str | None = None
    batch: dict[str, Any] = field(default_factory=lambda: FAST_BATCH)
    organisation: dict[str, Any] = field(default_factory=lambda: ORGANISATION)
    rounds: int = 2
    restarts: frozenset[int] = frozenset()


FORMAT_JSON = Variant("format json", {}, LIVE_FILES, Framing.JSON_LINES, "json", batch={})
ROTATION = Variant(
    "rotation 1 MB",
    {"rotation": {"max_megabytes": 1}},
    LIVE_FILES | {"logs/logs-<time>-size.jsonl", "metrics/metrics-<time>-size.jsonl"},
    Framing.JSON_LINES,
    "json",
    # A write larger than max_megabytes is refused by the rotation, and the batch lost:
    # 200 records make lines of about 350 KB.
    batch=FAST_BATCH | {"send_batch_size": 200, "send_batch_max_size": 200},
    organisation=LARGE_ORGANISATION,
    rounds=6,
)
VARIANTS = (
    FORMAT_JSON,
    Variant("format proto", {"format": "proto"}, LIVE_FILES, Framing.LENGTH_PREFIXED, "proto"),
    Variant("zstd json", {"compression": "zstd"}, LIVE_FILES, Framing.LENGTH_PREFIXED, "zstd json"),
    Variant(
        "zstd proto",
        {"format": "proto", "compression": "zstd"},
        LIVE_FILES,
        Framing.LENGTH_PREFIXED,
        "zstd proto",
    ),
    Variant(
        "native zstd json",
        {"compression": "zstd"},
        LIVE_FILES,
        Framing.ZSTD_STREAM,
        "json",
        feature_gates=(NATIVE_COMPRESSION,),
    ),
    Variant(
        "native zstd proto",
        {"format": "proto", "compression": "zstd"},
        LIVE_FILES,
        Framing.ZSTD_STREAM,
        "proto",
        feature_gates=(NATIVE_COMPRESSION,),
    ),
    ROTATION,
    Variant(
        "group_by service.name",
        {},
        frozenset(  # Cowork sends no metrics
            {
                "logs/claude-code/logs.jsonl",
                "logs/cowork/logs.jsonl",
                "metrics/claude-code/metrics.jsonl",
            }
        ),
        Framing.JSON_LINES,
        "json",
        group_by="service.name",
    ),
    Variant(
        "restart",
        {},
        LIVE_FILES,
        Framing.JSON_LINES,
        "json",
        rounds=4,
        restarts=frozenset({0, 2}),
    ),
)


@dataclass(frozen=True)
class Run:
    """What was sent, what the collector answered and wrote, and the landings."""

    variant: Variant
    generated: GenerationResult
    logs: list[ExportLogsServiceRequest] = field(repr=False)
    metrics: list[ExportMetricsServiceRequest] = field(repr=False)
    statuses: Counter
    unauthenticated_status: int
    exit_codes: list[int]
    output: Path
    landed: DataLayout
    landings: list[LandingSummary]
    files_at_landing: list[list[str]]
    reference: DataLayout

    def landed_total(self, count: str) -> int:
        """A `LandingSummary` count summed over every landing of the run."""
        return sum(getattr(summary, count) for summary in self.landings)


def _files(output: Path) -> list[str]:
    """The files under `output`, relative to it."""
    return sorted(
        path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file()
    )


def _run(variant: Variant, binary: Path, folder: Path) -> Run:
    """Send the variant's organisation to the collector in rounds, landing as it writes."""
    generated = generate(
        folder / "generated",
        rotate_megabytes=1000,
        file_format=FileFormat(encoding="proto"),
        **variant.organisation,
    )
    sent = Path(generated.otel_dir)
    logs = export_requests(sent / "logs.pb", ExportLogsServiceRequest, WRITES_PER_REQUEST)
    metrics = export_requests(sent / "metrics.pb", ExportMetricsServiceRequest, WRITES_PER_REQUEST)
    config = local_config(
        folder,
        variant.exporter,
        batch=variant.batch,
        group_by=variant.group_by,
        feature_gates=variant.feature_gates,
    )
    landed = DataLayout(folder / "data")
    statuses: Counter = Counter()
    exit_codes: list[int] = []
    landings: list[LandingSummary] = []
    files_at_landing: list[list[str]] = []

    def land() -> None:
        files_at_landing.append(_files(config.output))
        landings.append(land_otel([config.output], landed))

    with (
        RunningCollector(binary, config, TEST_TOKEN) as collector,
        httpx.Client(timeout=30) as client,
    ):
        unauthenticated = client.post(
            f"{config.otlp_url}/v1/logs",
            content=logs[0].SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        ).status_code
        for round_ in range(variant.rounds):
            written = config.written_bytes()
            for path, messages in (("/v1/logs", logs), ("/v1/metrics", metrics)):
                for index, message in enumerate(messages):
                    if index * variant.rounds // len(messages) == round_:
                        body = BODIES[index % len(BODIES)]
                        status = post_export(client, config.otlp_url + path, message, body)
                        statuses[path, *body, status] += 1
            if round_ == variant.rounds - 1:
                break  # the last round is flushed by the stop
            if round_ in variant.restarts:
                exit_codes.append(collector.restart())
            else:
                collector.wait_for_writes(written)
            land()
        exit_codes.append(collector.stop())
    land()
    reference = DataLayout(folder / "reference")
    land_otel([sent], reference)
    return Run(
        variant,
        generated,
        logs,
        metrics,
        statuses,
        unauthenticated,
        exit_codes,
        config.output,
        landed,
        landings,
        files_at_landing,
        reference,
    )


@pytest.fixture(scope="module")
def binary() -> Path:
    return collector_binary()


@pytest.fixture(scope="module")
def runs(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Variant], Run]:
    """Each variant's run, made once in the module, whichever test asks for it first."""
    made: dict[str, Run] = {}

    def run_of(variant: Variant) -> Run:
        if variant.name not in made:
            made[variant.name] = _run(variant, binary, tmp_path_factory.mktemp("real_collector"))
        return made[variant.name]

    return run_of


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda variant: variant.name)
def run(request: pytest.FixtureRequest, runs: Callable[[Variant], Run]) -> Run:
    return runs(request.param)


def _sql(layout: DataLayout, query: str) -> list[tuple]:
    """`query` over `events` and `metrics`, the layout's landed Parquet (those landed)."""
    otel = layout.root / "landing" / "otel"
    with duckdb.connect() as connection:
        for dataset in ("events", "metrics"):
            if not (otel / dataset).exists():
                continue
            connection.execute(
                f"create view {dataset} as "
                f"select * from read_parquet('{otel / dataset}/*/*.parquet', union_by_name = true)"
            )
        return connection.execute(query).fetchall()


def _attribute(attributes, key: str):
    return next(getattr(a.value, a.value.WhichOneof("value")) for a in attributes if a.key == key)


def test_shipped_config_validates(binary: Path) -> None:
    assert validate(binary, SHIPPED_CONFIG, TEST_TOKEN).returncode == 0
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
    assert run.exit_codes == [0] * (len(run.variant.restarts) + 1)


def _zstd_frames(data: bytes) -> list[bytes]:
    """The decompressed content of each zstd frame in `data`, which must be whole frames."""
    frames = []
    while data:
        frame = zstandard.ZstdDecompressor().decompressobj()
        frames.append(frame.decompress(data))
        assert frame.eof, "a truncated zstd frame"
        data = frame.unused_data
    return frames


def _length_prefixed(data: bytes) -> list[bytes]:
    """The payloads of `[4-byte big-endian length][payload]...`, which must end whole."""
    payloads = []
    while data:
        size = int.from_bytes(data[:4], "big")
        assert 4 + size <= len(data), "a truncated message"
        payloads.append(data[4 : 4 + size])
        data = data[4 + size :]
    return payloads


def _written_messages(path: Path, variant: Variant) -> list[bytes]:
    """The messages in `path` as the exporter wrote them, unframed by the exporter's rules."""
    data = path.read_bytes()
    frames = _zstd_frames(data) if variant.framing is Framing.ZSTD_STREAM else None
    if frames is not None:
        data = b"".join(frames)
    if variant.payload == "json":
        assert data.endswith(b"\n")
        messages = data.split(b"\n")[:-1]
    else:
        messages = _length_prefixed(data)
    if frames is not None:
        # A frame per write (rotation on): each message, and JSON's newline after it.
        assert len(frames) == len(messages) * (2 if variant.payload == "json" else 1)
    return messages


def _decoded(message: bytes, payload: str, signal: str) -> dict:
    """A written message as OTLP/JSON, decoded as `payload` says it is encoded."""
    if payload.startswith("zstd "):
        (message,) = _zstd_frames(message)  # one frame per message
        payload = payload.removeprefix("zstd ")
    if payload == "json":
        return json.loads(message)
    request = REQUEST_TYPES[signal].FromString(message)
    encode = encode_logs_json if signal == "logs" else encode_metrics_json
    return json.loads(encode(request))


def test_exporter_writes_as_observed(run: Run) -> None:
    variant = run.variant
    files = _files(run.output)
    assert {ROTATION_TIME.sub("-<time>-", name) for name in files} == variant.files
    for name in files:
        path = run.output / name
        # Rotated files, and only they, are known by their names.
        assert is_rotated(path) is (ROTATION_TIME.search(name) is not None)
        assert path.stat().st_mode & 0o777 == 0o644
        assert detect_file_framing(path) is variant.framing
        signal = name.split("/")[0]
        messages = [_decoded(m, variant.payload, signal) for m in _written_messages(path, variant)]
        assert messages and all(m.keys() == {ENVELOPES[signal]} for m in messages)


def _people_in_line(resources: list[dict]) -> set[object]:
    """The `process.owner`s of a written line's OTLP/JSON resources."""
    return {
        value_of(item["value"])
        for resource in resources
        for item in resource["resource"]["attributes"]
        if item["key"] == "process.owner"
    }


def test_collector_writes_one_json_line_per_batch(runs: Callable[[Variant], Run]) -> None:
    run = runs(FORMAT_JSON)
    for signal, requests in (("logs", run.logs), ("metrics", run.metrics)):
        lines = (run.output / signal / f"{signal}.jsonl").read_bytes().split(b"\n")[:-1]
        messages = [json.loads(line)[ENVELOPES[signal]] for line in lines]
        # The batch processor merges requests: a line while running, one at the stop, each
        # holding many requests and people.
        assert 2 <= len(lines) < len(requests)
        assert min(len(_people_in_line(message)) for message in messages) >= 2


def test_live_file_is_landed_between_rotations(runs: Callable[[Variant], Run]) -> None:
    run = runs(ROTATION)
    rotated = [
        sum(is_rotated(Path(name)) for name in names if name.startswith("logs/"))
        for names in run.files_at_landing
    ]
    # Every landing found the live file, and files were rotated between landings: files
    # landed in part while live were landed on under their rotated names (nothing twice:
    # the equality tests).
    assert all("logs/logs.jsonl" in names for names in run.files_at_landing)
    assert rotated == sorted(rotated) and len(set(rotated)) >= 4
    assert all(summary.records_landed > 0 for summary in run.landings[:-1])
    assert max((run.output / name).stat().st_size for name in _files(run.output)) <= 1 << 20


def test_landed_events_equal_what_was_sent(run: Run) -> None:
    records, sent = run.landed_total("records_landed"), run.generated.events
    assert records == sent
    quarantined = [run.landed_total(f"quarantined_{what}") for what in ("lines", "records")]
    assert quarantined == [0, 0]
    assert run.landed_total("records_with_rejected_values") == 0
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
    # Every cost bit for bit: the exact value of each double, summed exactly (in any order).
    sent_cost = sum(
        Fraction(_attribute(record.attributes, "cost_usd"))
        for record in sent_records
        if any(a.key == "cost_usd" for a in record.attributes)
    )
    landed_costs = _sql(run.landed, "select cost_usd from events where cost_usd is not null")
    assert sum(Fraction(cost) for (cost,) in landed_costs) == sent_cost
    assert round(sent_cost, 9) == Fraction(Decimal(run.generated.total_cost_usd))
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
    points = run.landed_total("metric_points_landed")
    assert points == sent_points
    rows = f"select * exclude ({PROVENANCE}) from metrics order by metric_point_id"
    landed = _sql(run.landed, rows)
    assert len(landed) == sent_points
    assert landed == _sql(run.reference, rows)


def _padded(
    template: ExportLogsServiceRequest, sequence: int, padding: int
) -> ExportLogsServiceRequest:
    """`template`'s first record alone, numbered `sequence`, with `padding` bytes more."""
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.CopyFrom(template.resource_logs[0].resource)
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.CopyFrom(template.resource_logs[0].scope_logs[0].scope)
    record = scope_logs.log_records.add()
    record.CopyFrom(template.resource_logs[0].scope_logs[0].log_records[0])
    record.attributes.add(key="test.sequence").value.int_value = sequence
    record.attributes.add(key="test.padding").value.string_value = "x" * padding
    return request


def test_rotation_between_a_message_and_its_newline(binary: Path, tmp_path: Path) -> None:
    # Regression: the rotated file's last message, whole but without its newline, was
    # quarantined as truncated, and the files starting with the newline all had one
    # identity, so the live file was skipped.
    # GIVEN the exporter writes a JSON message and its newline in two writes, and rotates
    # (renames the file) before a write that would take it past max_megabytes
    generated = generate(
        tmp_path / "generated",
        rotate_megabytes=1000,
        file_format=FileFormat(encoding="proto"),
        **ORGANISATION,
    )
    template = export_requests(Path(generated.otel_dir) / "logs.pb", ExportLogsServiceRequest, 1)[0]
    config = local_config(tmp_path, {"rotation": {"max_megabytes": 1}}, batch=FAST_BATCH)
    logs, limit = config.folders[0], 1 << 20
    landed = DataLayout(tmp_path / "data")
    landings = []
    with (
        RunningCollector(binary, config, TEST_TOKEN) as collector,
        httpx.Client(timeout=30) as client,
    ):

        def send(sequence: int, padding: int) -> int:
            """Send one padded record, land while the collector runs; the live file's size."""
            written = config.written_bytes()
            message = _padded(template, sequence, padding)
            assert post_export(client, f"{config.otlp_url}/v1/logs", message) == 200
            collector.wait_for_writes({logs: written[logs]})
            landings.append(land_otel([config.output], landed))
            return (logs / "logs.jsonl").stat().st_size

        # WHEN a message fills the file to exactly the limit, twice in a row
        size = send(1, padding=1)  # a message of `base + 1` bytes and its newline
        base = size - 2
        send(2, padding=limit - size - base)
        send(3, padding=limit - 1 - base)  # after the newline the rotation put first
        send(4, padding=1)
        assert collector.stop() == 0
    landings.append(land_otel([config.output], landed))

    # THEN each rotated file ends without its last newline, the next file starts with it,
    # and the four records land once each, nothing quarantined
    rotated = sorted(path for path in logs.iterdir() if is_rotated(path))
    contents = [path.read_bytes() for path in [*rotated, logs / "logs.jsonl"]]
    assert [len(content) for content in contents[:2]] == [limit, limit]
    assert [(content[:1], content[-1:]) for content in contents] == [
        (b"{", b"}"),
        (b"\n", b"}"),
        (b"\n", b"\n"),
    ]
    records = [summary.records_landed for summary in landings]
    quarantined = [summary.quarantined_lines for summary in landings]
    assert (sum(records), sum(quarantined)) == (4, 0), (records, quarantined)
    assert not landed.otel_quarantine.exists()
    sequences = "select json_extract(attributes_json, '$.\"test.sequence\"') from events"
    assert sorted(int(value) for (value,) in _sql(landed, sequences)) == [1, 2, 3, 4]
