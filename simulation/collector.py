"""Write simulated telemetry the way an OpenTelemetry Collector `file` exporter would.

Clients export every few seconds; the collector's batch processor merges the requests that
arrive close together, and the exporter writes each merged batch as one message. How a
message lands in the file depends on the exporter's settings (`FileFormat`), and the live
file is rotated (`logs.jsonl` -> `logs-<UTC timestamp>.jsonl`) past `max_megabytes`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import zstandard
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ingestion.otel.otlp_json import encode_logs_json, encode_metrics_json
from simulation.behaviour import Event
from simulation.otlp import build_logs_request, build_metrics_request, uses_cumulative_temporality

CLIENT_EXPORT_INTERVAL_NS = 5_000_000_000  # OTEL_LOGS_EXPORT_INTERVAL default (5 s)
METRIC_EXPORT_INTERVAL_NS = 60_000_000_000  # OTEL_METRIC_EXPORT_INTERVAL default (60 s)
COLLECTOR_BATCH_WINDOW_NS = 30_000_000_000
# The compact shape (`log_writes(compact=True)`): a collector whose batch processor sends
# fixed batches (`send_batch_size: 64`) of clients that copy no resource tags onto records
# and send only the attributes Cowork documents, about 16 per record and 1.3 KB.
COMPACT_RECORDS_PER_MESSAGE = 64
COMPACT_DROPPED_ATTRIBUTES = frozenset(
    {
        "terminal.type",
        "workspace.host_paths",
        "department",
        "team.id",
        "cost_center",
        "ttft_ms",
        "speed",
        "cost_usd_micros",
        "request_id",
        "query_source",
    }
)


@dataclass(frozen=True)
class FileFormat:
    """The exporter's `format`, `compression` and `nativeCompression` feature gate."""

    encoding: str = "json"  # "json" or "proto"
    compression: str = "none"  # "none" or "zstd" (per message, length-prefixed)
    native_zstd: bool = False  # exporter.file.nativeCompression: a standard .zst stream

    def __post_init__(self) -> None:
        if self.encoding not in ("json", "proto") or self.compression not in ("none", "zstd"):
            raise ValueError(f"unsupported file format {self}")
        if self.native_zstd and self.compression != "none":
            raise ValueError("nativeCompression replaces per-message compression")

    @property
    def suffix(self) -> str:
        """File name suffix, e.g. `.jsonl`, `.pb` or `.jsonl.zst`."""
        base = ".jsonl" if self.encoding == "json" and self.compression == "none" else ".pb"
        return base + (".zst" if self.native_zstd else "")

    def frame(self, message: Message) -> bytes:
        """The bytes one exporter write adds to the file."""
        if self.encoding == "json":
            payload = (
                encode_logs_json(message)
                if isinstance(message, ExportLogsServiceRequest)
                else encode_metrics_json(message)
            ).encode()
        else:
            payload = message.SerializeToString()
        if self.encoding == "json" and self.compression == "none":
            data = payload + b"\n"  # exportMessageAsLine
        else:
            if self.compression == "zstd":
                payload = zstandard.ZstdCompressor(level=3).compress(payload)
            data = len(payload).to_bytes(4, "big") + payload  # exportMessageAsBuffer
        if self.native_zstd:
            data = zstandard.ZstdCompressor(level=3).compress(data)  # one frame per write
        return data


def _export_time_ns(process_key: str, time_ns: int, interval_ns: int) -> int:
    """When a client's periodic exporter sends an event: the next tick of its timer."""
    phase = zlib.crc32(process_key.encode()) % interval_ns
    ticks = -(-(time_ns - phase) // interval_ns)
    return ticks * interval_ns + phase


def log_writes(
    events: Iterable[Event], *, compact: bool = False
) -> Iterator[tuple[int, ExportLogsServiceRequest]]:
    """Group events into collector writes of logs, in write order.

    Args:
        events: the events to write.
        compact: write the compact shape (`COMPACT_RECORDS_PER_MESSAGE` records per
            message, without `COMPACT_DROPPED_ATTRIBUTES`) instead of time-window batches.

    Yields:
        (write time in ns, export request holding several clients' batches).
    """
    timed = sorted(
        (
            (_export_time_ns(event.process_key, event.time_ns, CLIENT_EXPORT_INTERVAL_NS), event)
            for event in events
        ),
        key=lambda item: item[0],
    )
    if compact:
        yield from _fixed_size_writes(timed)
        return
    for window, in_window in groupby(timed, key=lambda item: item[0] // COLLECTOR_BATCH_WINDOW_NS):
        requests = [
            sorted((event for _, event in request), key=lambda e: (e.time_ns, e.sequence))
            for _, request in groupby(
                sorted(in_window, key=lambda item: (item[0], item[1].process_key)),
                key=lambda item: (item[0], item[1].process_key),
            )
        ]
        yield (window + 1) * COLLECTOR_BATCH_WINDOW_NS, build_logs_request(requests)


def _fixed_size_writes(
    timed: list[tuple[int, Event]],
) -> Iterator[tuple[int, ExportLogsServiceRequest]]:
    """Messages of a fixed number of records in export order.

    Each client's run of records is one ResourceLogs; records lack the attributes the
    compact shape leaves out.
    """
    for start in range(0, len(timed), COMPACT_RECORDS_PER_MESSAGE):
        chunk = timed[start : start + COMPACT_RECORDS_PER_MESSAGE]
        requests = [
            [_compacted(event) for _, event in request]
            for _, request in groupby(chunk, key=lambda item: item[1].process_key)
        ]
        yield chunk[-1][0], build_logs_request(requests)


def _compacted(event: Event) -> Event:
    attributes = {
        key: value
        for key, value in event.attributes.items()
        if key not in COMPACT_DROPPED_ATTRIBUTES
    }
    return replace(event, attributes=attributes)


@dataclass
class MetricsState:
    """Per client process: when its meter started, and its requests so far (cumulative)."""

    started_ns: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[Event]] = field(default_factory=dict)


def metric_writes(events: Iterable[Event], state: MetricsState) -> Iterator[tuple[int, object]]:
    """Claude Code's cost and token counters, exported every 60 s per client process."""
    requests = [
        event
        for event in events
        if event.name == "api_request" and event.person.service_name == "claude-code"
    ]
    by_interval: dict[tuple[int, str], list[Event]] = {}
    for event in sorted(requests, key=lambda e: (e.time_ns, e.sequence)):
        state.started_ns.setdefault(event.process_key, event.time_ns - 1_000_000_000)
        export_ns = _export_time_ns(event.process_key, event.time_ns, METRIC_EXPORT_INTERVAL_NS)
        by_interval.setdefault((export_ns, event.process_key), []).append(event)
    batches = []
    for (export_ns, process_key), interval_events in sorted(by_interval.items()):
        if uses_cumulative_temporality(interval_events[0].person):
            history = state.history.setdefault(process_key, [])
            history.extend(interval_events)
            batches.append((state.started_ns[process_key], export_ns, list(history)))
        else:
            start = export_ns - METRIC_EXPORT_INTERVAL_NS
            batches.append((start, export_ns, interval_events))
    for window, in_window in groupby(batches, key=lambda b: b[1] // COLLECTOR_BATCH_WINDOW_NS):
        yield (window + 1) * COLLECTOR_BATCH_WINDOW_NS, build_metrics_request(list(in_window))


class RotatingFileWriter:
    """Appends exporter writes to a live file and rotates it past a size limit."""

    def __init__(self, path: Path, max_megabytes: float, file_format: FileFormat):
        self.path = path
        self.max_bytes = int(max_megabytes * 1024 * 1024)
        self.file_format = file_format
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("wb")
        self._size = 0
        self.rotated: list[Path] = []
        self.writes = 0

    def write(self, message: Message, written_at_ns: int) -> None:
        """Write one message; rotate first if the live file is already full."""
        data = self.file_format.frame(message)
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate(written_at_ns)
        self._handle.write(data)
        self._size += len(data)
        self.writes += 1

    def _rotate(self, at_ns: int) -> None:
        self._handle.close()
        moment = datetime.fromtimestamp(at_ns / 1e9, tz=UTC)
        stamp = moment.strftime("%Y-%m-%dT%H-%M-%S.") + f"{moment.microsecond // 1000:03d}"
        # Like the exporter (lumberjack): the timestamp goes before the last extension.
        rotated = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        self.path.rename(rotated)
        self.rotated.append(rotated)
        self._handle = self.path.open("wb")
        self._size = 0

    @property
    def files(self) -> list[Path]:
        """Every file written, rotated ones first."""
        return [*self.rotated, self.path]

    def close(self) -> None:
        """Close the live file."""
        self._handle.close()
