"""Land OTel Collector `file`-exporter output as Parquet, incrementally and idempotently.

Each input file is known by a fingerprint of its first line, so a rotated (renamed) file is
recognised. Only complete lines are landed; the partial tail of a live file waits for the
next run. Parquet files get deterministic names (fingerprint + byte offset) and are written
atomically before the manifest advances, so a crash and a rerun land the same set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.manifest import Manifest
from ingestion.otel.parse import BadLine, parse_lines
from ingestion.otel.pivot import records_to_events
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
CHUNK_BYTES = 64 << 20
FINGERPRINT_BYTES = 64 << 10


@dataclass
class LandingSummary:
    """What one landing run did."""

    files_seen: int = 0
    files_with_new_data: int = 0
    unsupported_files: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0
    records_landed: int = 0
    quarantined_lines: int = 0
    quarantined_records: int = 0
    parquet_files: int = 0
    partitions: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Landing throughput in log records per second."""
        return self.records_landed / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view, for logs and Dagster metadata."""
        return {
            "files_seen": self.files_seen,
            "files_with_new_data": self.files_with_new_data,
            "unsupported_files": len(self.unsupported_files),
            "bytes_read": self.bytes_read,
            "records_landed": self.records_landed,
            "quarantined_lines": self.quarantined_lines,
            "quarantined_records": self.quarantined_records,
            "parquet_files": self.parquet_files,
            "partitions": len(self.partitions),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
        }


def discover_files(inputs: Iterable[Path]) -> list[Path]:
    """Input files under the given folders (recursively, for `group_by`), oldest first."""
    found: set[Path] = set()
    for path in inputs:
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            raise FileNotFoundError(f"OTel input {path} does not exist")
    # Rotated files are older than the live file they came from; land them first.
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def fingerprint(path: Path) -> str | None:
    """A content fingerprint from the file's first complete line, or None before it has one.

    The first line never changes once written, and survives renames and copies.
    """
    with path.open("rb") as handle:
        head = handle.read(FINGERPRINT_BYTES)
    end = head.find(b"\n")
    if end < 0:
        return None if len(head) < FINGERPRINT_BYTES else hashlib.sha256(head).hexdigest()
    return hashlib.sha256(head[: end + 1]).hexdigest()


def _is_json_lines(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    return not head or head[:1] == b"{"


def _complete_chunks(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """Whole lines from `offset` in bounded chunks; a trailing partial line is left unread."""
    with path.open("rb") as handle:
        handle.seek(offset)
        carry = b""
        while True:
            block = handle.read(CHUNK_BYTES)
            if not block:
                return
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:  # one line longer than a chunk: keep reading until it ends
                carry = data
                continue
            yield offset, data[: cut + 1]
            offset += cut + 1
            carry = data[cut + 1 :]


def _write_quarantine(
    layout: DataLayout, path: Path, print_: str, start: int, bad: list[BadLine]
) -> None:
    target = layout.otel_quarantine / f"lines-{print_[:16]}-{start:015d}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name("." + target.name + ".tmp")
    with temporary.open("w") as handle:
        for line in bad:
            handle.write(
                json.dumps(
                    {
                        "source_path": str(path),
                        "source_file_fingerprint": print_,
                        "source_byte_offset": line.offset,
                        "error": line.error,
                        "line": line.content.decode("utf-8", errors="replace"),
                    }
                )
                + "\n"
            )
    temporary.chmod(0o600)  # quarantined lines may hold prompt text
    temporary.replace(target)


def _land_chunk(
    layout: DataLayout,
    path: Path,
    print_: str,
    start: int,
    data: bytes,
    connection: duckdb.DuckDBPyConnection,
    summary: LandingSummary,
) -> tuple[int, int]:
    """Land one chunk of whole lines; returns (records landed, lines quarantined)."""
    parsed = parse_lines(data, start)
    events = records_to_events(
        parsed.table,
        parsed.offsets,
        fingerprint=print_,
        landed_at=datetime.now(UTC),
        connection=connection,
    )
    undated = pc.is_null(events.column("event_date"))
    if pc.any(undated).as_py():
        summary.quarantined_records += pc.sum(undated).as_py()
        write_parquet_atomically(
            events.filter(undated),
            layout.otel_quarantine / f"records-{print_[:16]}-{start:015d}.parquet",
        )
        events = events.filter(pc.invert(undated))
    for day in pc.unique(events.column("event_date")).to_pylist():
        partition = events.filter(
            pc.equal(events.column("event_date"), pa.scalar(day, pa.date32()))
        )
        name = f"event_date={day.isoformat()}"
        write_parquet_atomically(
            partition, layout.otel_events / name / f"part-{print_[:16]}-{start:015d}.parquet"
        )
        summary.parquet_files += 1
        summary.partitions.add(name)
    if parsed.bad_lines:
        _write_quarantine(layout, path, print_, start, parsed.bad_lines)
        LOGGER.warning("%s: %d malformed line(s) quarantined", path, len(parsed.bad_lines))
    summary.lines += len(parsed.offsets) + len(parsed.bad_lines)
    summary.records_landed += events.num_rows
    summary.quarantined_lines += len(parsed.bad_lines)
    summary.bytes_read += len(data)
    return events.num_rows, len(parsed.bad_lines)


def land_otel(
    inputs: Iterable[Path],
    layout: DataLayout,
    progress: Callable[[int], None] | None = None,
) -> LandingSummary:
    """Land every new complete line of the collector files under `inputs`.

    Args:
        inputs: folders (searched recursively) or files written by the collector.
        layout: the data directory layout to land into.
        progress: called with the number of bytes consumed after each chunk.

    Returns:
        Counts of what was landed and quarantined.
    """
    started = time.perf_counter()
    summary = LandingSummary()
    manifest = Manifest(layout.manifest)
    connection = duckdb.connect()
    try:
        for path in discover_files(inputs):
            summary.files_seen += 1
            if not _is_json_lines(path):
                summary.unsupported_files.append(str(path))
                LOGGER.warning("%s: not OTLP/JSON lines; left unlanded", path)
                continue
            print_ = fingerprint(path)
            if print_ is None:
                continue  # no complete line yet
            offset = manifest.landed_offset(print_)
            if path.stat().st_size <= offset:
                continue
            summary.files_with_new_data += 1
            for start, data in _complete_chunks(path, offset):
                records, quarantined = _land_chunk(
                    layout, path, print_, start, data, connection, summary
                )
                manifest.advance(print_, path, start + len(data), records, quarantined)
                if progress:
                    progress(len(data))
    finally:
        connection.close()
        manifest.close()
    summary.seconds = time.perf_counter() - started
    return summary
