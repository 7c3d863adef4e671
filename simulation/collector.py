"""Write simulated events the way an OpenTelemetry Collector `file` exporter would.

Clients export every few seconds; the collector's batch processor merges the requests that
arrive close together, and the exporter writes each merged batch as one JSON line. The
live file is rotated (`logs.jsonl` -> `logs-<UTC timestamp>.jsonl`) when it grows past
`max_megabytes`, as the exporter's `rotation` setting does.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from simulation.behaviour import Event
from simulation.otlp import build_logs_request, encode_logs_json

CLIENT_EXPORT_INTERVAL_NS = 5_000_000_000  # OTEL_LOGS_EXPORT_INTERVAL default (5 s)
COLLECTOR_BATCH_WINDOW_NS = 30_000_000_000


def _export_time_ns(event: Event) -> int:
    """When the event's client exports it: the next tick of that process's export timer."""
    phase = zlib.crc32(event.process_key.encode()) % CLIENT_EXPORT_INTERVAL_NS
    ticks = -(-(event.time_ns - phase) // CLIENT_EXPORT_INTERVAL_NS)
    return ticks * CLIENT_EXPORT_INTERVAL_NS + phase


def collector_lines(events: Iterable[Event]) -> Iterable[tuple[int, str]]:
    """Group events into collector writes and encode each as one OTLP/JSON line.

    Yields:
        (write time in ns, line without newline), in write order.
    """
    timed = sorted(((_export_time_ns(event), event) for event in events), key=lambda item: item[0])
    for window, in_window in groupby(timed, key=lambda item: item[0] // COLLECTOR_BATCH_WINDOW_NS):
        window_events = list(in_window)
        requests = [
            [event for _, event in request]
            for _, request in groupby(
                sorted(window_events, key=lambda item: (item[0], item[1].process_key)),
                key=lambda item: (item[0], item[1].process_key),
            )
        ]
        # Requests of one window interleave users; each keeps its own records in order.
        for request in requests:
            request.sort(key=lambda event: (event.time_ns, event.sequence))
        written_at = (window + 1) * COLLECTOR_BATCH_WINDOW_NS
        yield written_at, encode_logs_json(build_logs_request(requests))


class RotatingFileWriter:
    """Appends lines to a live file and rotates it past a size limit, like the exporter."""

    def __init__(self, path: Path, max_megabytes: float):
        self.path = path
        self.max_bytes = int(max_megabytes * 1024 * 1024)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("wb")
        self._size = 0
        self.rotated: list[Path] = []

    def write_line(self, line: str, written_at_ns: int) -> None:
        """Write one line; rotate first if the live file is already full."""
        data = line.encode() + b"\n"
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate(written_at_ns)
        self._handle.write(data)
        self._size += len(data)

    def _rotate(self, at_ns: int) -> None:
        self._handle.close()
        moment = datetime.fromtimestamp(at_ns / 1e9, tz=UTC)
        stamp = moment.strftime("%Y-%m-%dT%H-%M-%S.") + f"{moment.microsecond // 1000:03d}"
        rotated = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        self.path.rename(rotated)
        self.rotated.append(rotated)
        self._handle = self.path.open("wb")
        self._size = 0

    def close(self) -> None:
        """Close the live file."""
        self._handle.close()
