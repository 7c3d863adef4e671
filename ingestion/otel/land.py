"""Land OTel Collector `file`-exporter output as Parquet, incrementally and idempotently.

Each input file is known by its first whole message, device and inode (identity.py), so a
rotated (renamed) file carries on where it was, a copy is skipped, and a file that shares
its first message with another or was truncated and rewritten lands whole. Only whole
messages are landed; the partial tail of a live file waits for the next run. Parquet
files get deterministic names (fingerprint + byte offset) and are written atomically
before the manifest advances, so a crash at any point and a rerun land exactly what an
uninterrupted run lands. Parsing and pivoting the next batch overlaps writing the previous
one. Records of people in the erasure register (`ingestion.erasure_register`) are dropped
after the pivot, before anything is written, and counted.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from configuration.settings import PepperMissingError
from ingestion.crash import crash_point, mark_worker
from ingestion.erasure_register import (
    OTEL_DEVICE_COLUMN,
    OTEL_JSON_IDENTIFIERS,
    OTEL_STRONG_COLUMNS,
    ErasureRegister,
    load_register,
)
from ingestion.locks import exclusive_lock
from ingestion.manifest import LandedFile, Manifest
from ingestion.otel.compaction import compact_partitions
from ingestion.otel.framing import (
    ZSTD_MAGIC,
    Batch,
    Framing,
    detect_file_framing,
    read_batches,
)
from ingestion.otel.identity import FileIdentifier, tail_hash
from ingestion.otel.metrics import lines_to_metric_points
from ingestion.otel.parse import BadLine, parse_lines
from ingestion.otel.pivot import records_to_events
from ingestion.otel.privacy import PrivacyMode, apply_privacy
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
PIPELINE_DEPTH = 3
# Stages timed on the main thread (LandingSummary.stage_cpu_seconds).
MAIN_STAGES = ("framing", "manifest")
PARALLEL_ABOVE_BYTES = 256 << 20
# Event times further ahead of the landing clock than this are flagged as clock skew.
FUTURE_TOLERANCE = timedelta(minutes=15)
# Outside this window around the landing clock an event time is no time at all (a clock
# reset to 1970, 2**63-1 ns in 2262): such records are quarantined, not landed on a date
# that would move every daily mart and forecast. Claude clients postdate 2020.
EARLIEST_EVENT_AT = datetime(2020, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=2)


@dataclass
class LandingSummary:
    """What one landing run did."""

    files_seen: int = 0
    files_with_new_data: int = 0
    duplicate_files_skipped: int = 0
    unsupported_files: list[str] = field(default_factory=list)
    unreadable_files: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0
    records_landed: int = 0
    metric_points_landed: int = 0
    quarantined_lines: int = 0
    quarantined_records: int = 0
    records_with_rejected_values: int = 0
    values_kept_as_text: int = 0
    future_records: int = 0
    # Records, metric points and quarantined lines of forgotten people, dropped unlanded.
    erased_records_dropped: int = 0
    erased_metric_points_dropped: int = 0
    erased_lines_dropped: int = 0
    parquet_files: int = 0
    compacted_partitions: int = 0
    partitions: set[str] = field(default_factory=set)
    seconds: float = 0.0
    # CPU seconds per stage (parse, pivot and classification, Parquet write, ...): a worker's
    # process CPU (its Arrow and DuckDB threads included) and the main thread's (MAIN_STAGES).
    # Exact with worker processes (backlogs of PARALLEL_ABOVE_BYTES or more); with the worker
    # thread of small increments, a worker stage also counts the main thread meanwhile.
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)

    def add_cpu(self, stage: str, since: float, clock: Callable[[], float]) -> float:
        """Add the CPU `clock` counted since `since` to `stage`; returns the clock now."""
        now = clock()
        self.stage_cpu_seconds[stage] = self.stage_cpu_seconds.get(stage, 0.0) + now - since
        return now

    @property
    def events_per_second(self) -> float:
        """Landing throughput in log records per second."""
        return self.records_landed / self.seconds if self.seconds else 0.0

    @property
    def quarantine_rate(self) -> float:
        """Quarantined lines over all lines read in this run."""
        return self.quarantined_lines / self.lines if self.lines else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view, for logs and Dagster metadata."""
        return {
            "files_seen": self.files_seen,
            "files_with_new_data": self.files_with_new_data,
            "duplicate_files_skipped": self.duplicate_files_skipped,
            "unsupported_files": len(self.unsupported_files),
            "unreadable_files": len(self.unreadable_files),
            "bytes_read": self.bytes_read,
            "lines": self.lines,
            "records_landed": self.records_landed,
            "metric_points_landed": self.metric_points_landed,
            "quarantined_lines": self.quarantined_lines,
            "quarantined_records": self.quarantined_records,
            "records_with_rejected_values": self.records_with_rejected_values,
            "values_kept_as_text": self.values_kept_as_text,
            "future_records": self.future_records,
            "erased_records_dropped": self.erased_records_dropped,
            "erased_metric_points_dropped": self.erased_metric_points_dropped,
            "erased_lines_dropped": self.erased_lines_dropped,
            "parquet_files": self.parquet_files,
            "compacted_partitions": self.compacted_partitions,
            "partitions": len(self.partitions),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
        }


@dataclass(frozen=True)
class _Work:
    path: Path
    file: LandedFile  # as it will be once this batch is landed
    batch: Batch

    @property
    def fingerprint(self) -> str:
        return self.file.fingerprint


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
    stamped = []
    for path in found:
        try:
            stamped.append((path.stat().st_mtime_ns, str(path), path))
        except FileNotFoundError:
            continue  # renamed by a rotation since listed: found under its new name next time
    return [path for _, _, path in sorted(stamped)]


@dataclass(frozen=True)
class _FilePlan:
    path: Path
    framing: Framing
    file: LandedFile

    @property
    def pending_bytes(self) -> int:
        return max(0, self.path.stat().st_size - self.file.landed_offset)


def _plan_files(files: list[Path], manifest: Manifest, summary: LandingSummary) -> list[_FilePlan]:
    """Which files have bytes to land, from which offset; notes unsupported and copies."""
    plans = []
    identifier = FileIdentifier(manifest)
    for path in files:
        summary.files_seen += 1
        try:
            framing = detect_file_framing(path)
            identified = (
                identifier.identify(path, framing) if framing is not Framing.UNKNOWN else None
            )
        except FileNotFoundError:
            continue  # renamed by a rotation since listed: found under its new name next time
        except OSError as error:
            summary.unreadable_files.append(str(path))
            LOGGER.warning("%s: cannot be read (%s); left unlanded", path, error.strerror)
            continue
        if framing is Framing.EMPTY:
            continue
        if framing is Framing.UNKNOWN:
            summary.unsupported_files.append(str(path))
            LOGGER.warning(
                "%s: not an OTLP file-exporter format (JSON lines, protobuf, zstd); left unlanded",
                path,
            )
            continue
        if identified is None:
            continue  # no complete message yet
        if identified.copy:
            summary.duplicate_files_skipped += 1
            if identified.file is not None:
                manifest.advance(identified.file, records=0, quarantined=0)
            continue
        if path.stat().st_size <= identified.file.landed_offset:
            continue
        summary.files_with_new_data += 1
        plans.append(_FilePlan(path, framing, identified.file))
    return plans


def _batches(plans: list[_FilePlan]) -> Iterator[_Work]:
    for plan in plans:
        try:
            handle = plan.path.open("rb")
        except FileNotFoundError:
            continue  # renamed by a rotation since planned: found under its new name next time
        with handle:
            status = os.fstat(handle.fileno())
            if (status.st_dev, status.st_ino) != (plan.file.device, plan.file.inode):
                continue  # rotated since planned: another file has its name now
            for batch in read_batches(plan.path, plan.file.landed_offset, plan.framing):
                landed = replace(
                    plan.file,
                    landed_offset=batch.end,
                    tail_hash=tail_hash(handle.fileno(), batch.end),
                )
                yield _Work(plan.path, landed, batch)


def _quarantine_lines(
    layout: DataLayout, work: _Work, bad: list[BadLine], mode: PrivacyMode
) -> None:
    target = layout.otel_quarantine / f"lines-{work.fingerprint[:16]}-{work.batch.start:015d}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name("." + target.name + ".tmp")
    with temporary.open("w") as handle:
        for line in bad:
            record = {
                "source_path": str(work.path),
                "source_file_fingerprint": work.fingerprint,
                "source_byte_offset": line.offset,
                "error": line.error,
                "bytes": len(line.content),
                "sha256": hashlib.sha256(line.content).hexdigest(),
            }
            # Under `strict` no content text reaches disk: the source file still holds it.
            if mode is not PrivacyMode.STRICT:
                if line.content.startswith(ZSTD_MAGIC) or b"\x00" in line.content[:64]:
                    record["content_base64"] = base64.b64encode(line.content).decode()
                else:
                    record["line"] = line.content.decode("utf-8", errors="replace")
            handle.write(json.dumps(record) + "\n")
    temporary.chmod(0o600)  # quarantined lines may hold prompt text
    temporary.replace(target)


def _write_partitions(
    table: pa.Table,
    date_column: str,
    root: Path,
    stem: str,
    summary: LandingSummary,
    mode: int | None = None,
) -> None:
    dates = table.column(date_column)
    for day in pc.unique(dates).to_pylist():
        partition = table.filter(pc.equal(dates, pa.scalar(day, pa.date32())))
        name = f"{date_column}={day.isoformat()}"
        write_parquet_atomically(partition, root / name / f"{stem}.parquet", mode=mode)
        summary.parquet_files += 1
        summary.partitions.add(f"{root.name}/{name}")
        crash_point("after_partition_written")


@dataclass
class _Transformed:
    """One batch, parsed and pivoted, ready to write."""

    events: pa.Table
    content: pa.Table | None
    quarantined_events: pa.Table
    points: pa.Table
    quarantined_points: pa.Table
    future_records: int
    rejected: int
    kept_as_text: int
    good_lines: int
    bad: list[BadLine]
    erased_records: int = 0
    erased_points: int = 0
    erased_lines: int = 0


_LOCAL = threading.local()


def _worker_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per worker thread: opening one per batch cost ~20 ms."""
    if not hasattr(_LOCAL, "connection"):
        _LOCAL.connection = duckdb.connect()
    return _LOCAL.connection


def _split_by_time(table: pa.Table, column: str, landed_at: datetime) -> tuple[pa.Table, pa.Table]:
    """(rows with a sane time, the others with a `quarantine_reason`)."""
    times = table.column(column)
    sane = pc.fill_null(
        pc.and_(
            pc.greater_equal(times, pa.scalar(EARLIEST_EVENT_AT)),
            pc.less_equal(times, pa.scalar(landed_at + LATEST_AHEAD)),
        ),
        False,
    )
    insane = table.filter(pc.invert(sane))
    reason = pc.if_else(
        pc.is_null(insane.column(column)),
        "no time",
        f"time outside {EARLIEST_EVENT_AT:%Y-%m-%d} .. landing time + {LATEST_AHEAD.days} days",
    )
    return table.filter(sane), insane.append_column("quarantine_reason", reason)


def _with_rejected_values(table: pa.Table) -> int:
    return pc.sum(pc.is_valid(table.column("rejected_values_json"))).as_py() or 0


def _drop_erased(
    register: ErasureRegister, events: pa.Table, points: pa.Table, bad: list[BadLine]
) -> tuple[pa.Table, pa.Table, list[BadLine], tuple[int, int, int]]:
    """The batch without the records and malformed lines of people in the erasure register.

    Records go by their identifier columns (whole-column: each distinct value hashed once);
    a malformed line by any e-mail address or JSON string in it naming such a person.
    """
    columns = (OTEL_STRONG_COLUMNS, OTEL_DEVICE_COLUMN, OTEL_JSON_IDENTIFIERS)
    events, erased_events = register.drop(events, *columns)
    points, erased_points = register.drop(points, *columns)
    kept = [
        line
        for line in bad
        if not register.names_anyone(line.content.decode("utf-8", errors="replace"))
    ]
    return events, points, kept, (erased_events, erased_points, len(bad) - len(kept))


def _transform(
    work: _Work,
    privacy: PrivacyMode,
    key: bytes,
    register: ErasureRegister | None,
    counts: LandingSummary,
) -> _Transformed:
    """Parse and pivot one batch (runs on a worker; Arrow releases the GIL).

    The CPU of each stage is added to `counts`.
    """
    clock = time.process_time()
    parsed = parse_lines(work.batch.data, work.batch.start, work.batch.line_offsets)
    clock = counts.add_cpu("parse", clock, time.process_time)
    landed_at = datetime.now(UTC)
    connection = _worker_connection()
    events = records_to_events(
        parsed.table,
        parsed.offsets,
        fingerprint=work.fingerprint,
        landed_at=landed_at,
        connection=connection,
    )
    clock = counts.add_cpu("pivot and classification", clock, time.process_time)
    points = lines_to_metric_points(
        parsed.table,
        parsed.offsets,
        fingerprint=work.fingerprint,
        landed_at=landed_at,
        connection=connection,
    )
    clock = counts.add_cpu("metrics", clock, time.process_time)
    bad = [*work.batch.bad, *parsed.bad_lines]
    erased = (0, 0, 0)
    if register:  # an empty register costs nothing
        events, points, bad, erased = _drop_erased(register, events, points, bad)
    events, quarantined_events = _split_by_time(events, "event_at", landed_at)
    points, quarantined_points = _split_by_time(points, "point_at", landed_at)
    future = pc.greater(events.column("event_at"), pa.scalar(landed_at + FUTURE_TOLERANCE))
    public, content = apply_privacy(events, privacy, key)
    if privacy is PrivacyMode.STRICT:
        # Under `strict` no content text reaches disk, quarantined records included.
        quarantined_events = apply_privacy(quarantined_events, privacy, key)[0]
    counts.add_cpu("erasure, checks and privacy", clock, time.process_time)
    return _Transformed(
        events=public,
        content=content,
        quarantined_events=quarantined_events,
        points=points,
        quarantined_points=quarantined_points,
        future_records=pc.sum(future).as_py() or 0,
        rejected=_with_rejected_values(events) + _with_rejected_values(points),
        kept_as_text=parsed.values_kept_as_text,
        good_lines=len(parsed.offsets),
        bad=bad,
        erased_records=erased[0],
        erased_points=erased[1],
        erased_lines=erased[2],
    )


def _write(
    layout: DataLayout,
    work: _Work,
    done: _Transformed,
    summary: LandingSummary,
    privacy: PrivacyMode,
) -> tuple[int, int]:
    """Write one transformed batch durably; returns (records landed, lines quarantined)."""
    stem = f"part-{work.fingerprint[:16]}-{work.batch.start:015d}"
    for kind, quarantined in (
        ("records", done.quarantined_events),
        ("points", done.quarantined_points),
    ):
        if quarantined.num_rows:
            target = layout.otel_quarantine / f"{kind}-{stem[5:]}.parquet"
            write_parquet_atomically(quarantined, target, mode=0o600)
    if done.content is not None and done.content.num_rows:
        layout.otel_content.mkdir(parents=True, exist_ok=True)
        layout.otel_content.chmod(0o700)
        _write_partitions(
            done.content, "event_date", layout.otel_content, stem, summary, mode=0o600
        )
    _write_partitions(done.events, "event_date", layout.otel_events, stem, summary)
    _write_partitions(done.points, "point_date", layout.otel_metrics, stem, summary)
    if done.bad:
        _quarantine_lines(layout, work, done.bad, privacy)
        LOGGER.warning("%s: %d malformed message(s) quarantined", work.path, len(done.bad))
    summary.lines += done.good_lines + len(done.bad) + done.erased_lines
    summary.erased_records_dropped += done.erased_records
    summary.erased_metric_points_dropped += done.erased_points
    summary.erased_lines_dropped += done.erased_lines
    summary.records_landed += done.events.num_rows
    summary.metric_points_landed += done.points.num_rows
    summary.quarantined_lines += len(done.bad)
    summary.quarantined_records += done.quarantined_events.num_rows
    summary.quarantined_records += done.quarantined_points.num_rows
    summary.records_with_rejected_values += done.rejected
    summary.values_kept_as_text += done.kept_as_text
    summary.future_records += done.future_records
    summary.bytes_read += work.batch.end - work.batch.start
    return done.events.num_rows, len(done.bad)


def _land_batch(
    root: str, work: _Work, privacy: PrivacyMode, key: bytes, register: ErasureRegister
) -> tuple[int, int, LandingSummary]:
    """Transform and write one batch (on a worker); the caller then commits the manifest.

    Returns:
        (records landed, lines quarantined, this batch's counts).
    """
    counts = LandingSummary()
    layout = DataLayout(Path(root))
    done = _transform(work, privacy, key, register, counts)
    clock = time.process_time()
    records, quarantined = _write(layout, work, done, counts, privacy)
    counts.add_cpu("Parquet write", clock, time.process_time)
    return records, quarantined, counts


def _add(total: LandingSummary, part: LandingSummary) -> None:
    for name in (
        "bytes_read",
        "lines",
        "records_landed",
        "metric_points_landed",
        "quarantined_lines",
        "quarantined_records",
        "records_with_rejected_values",
        "values_kept_as_text",
        "future_records",
        "erased_records_dropped",
        "erased_metric_points_dropped",
        "erased_lines_dropped",
        "parquet_files",
    ):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.partitions |= part.partitions
    for stage, seconds in part.stage_cpu_seconds.items():
        total.stage_cpu_seconds[stage] = total.stage_cpu_seconds.get(stage, 0.0) + seconds


def _worker_started() -> None:
    mark_worker()
    # If the landing process is killed, its workers must die with it rather than finish a
    # batch behind the back of the rerun (Linux: PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        LOGGER.debug("parent-death signal unavailable; workers exit when their queue closes")


def _sweep_temporary_files(layout: DataLayout) -> None:
    """Remove temporary files a killed run left behind (never visible to readers)."""
    root = layout.root / "landing" / "otel"
    if root.exists():
        for leftover in root.rglob(".*.tmp*"):
            leftover.unlink(missing_ok=True)


def land_otel(
    inputs: Iterable[Path],
    layout: DataLayout,
    progress: Callable[[int], None] | None = None,
    privacy: PrivacyMode = PrivacyMode.STANDARD,
    compact_above: int = 32,
    parallel_above_bytes: int = PARALLEL_ABOVE_BYTES,
    pepper: bytes | None = None,
    erasure_pepper: bytes | None = None,
) -> LandingSummary:
    """Land every new complete message of the collector files under `inputs`.

    Args:
        inputs: folders (searched recursively) or files written by the collector.
        layout: the data directory layout to land into.
        progress: called with the number of bytes consumed after each batch.
        privacy: what happens to prompt, response and tool-input text.
        compact_above: merge a date partition's files once it holds more than this many.
        parallel_above_bytes: use worker processes when this much input is waiting.
        pepper: the key of `strict`'s hashes (`Settings.pepper`); required under `strict`.
        erasure_pepper: `COWORK_PII_PEPPER` whenever it is set (`Settings.erasure_pepper`):
            a key of the erasure register's hashes.

    Returns:
        Counts of what was landed, skipped and quarantined.

    Raises:
        PepperMissingError: `strict` without a pepper (checked before anything is read).
        RegisterKeyError: the erasure register holds hashes under a key not given (nothing
            is read).
    """
    started = time.perf_counter()
    if privacy is PrivacyMode.STRICT and not pepper:
        raise PepperMissingError("privacy strict: the landing was given no pepper to hash with")
    key = pepper if privacy is PrivacyMode.STRICT else b""
    # One landing at a time per data directory (the sensor's run, the hourly run and the
    # CLI may overlap): two would read the same offsets, land records twice, and sweep each
    # other's temporary files.
    with exclusive_lock(layout.manifest.with_name(".landing.lock")):
        # Read under the landing lock, which `forget` holds while it adds to the register.
        register = load_register(layout, erasure_pepper)
        summary = _land_locked(
            inputs, layout, progress, privacy, compact_above, parallel_above_bytes, key, register
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _land_locked(
    inputs: Iterable[Path],
    layout: DataLayout,
    progress: Callable[[int], None] | None,
    privacy: PrivacyMode,
    compact_above: int,
    parallel_above_bytes: int,
    key: bytes,
    register: ErasureRegister,
) -> LandingSummary:
    summary = LandingSummary()
    process_clock = time.process_time()
    files = discover_files(inputs)
    _sweep_temporary_files(layout)
    manifest = Manifest(layout.manifest)

    def commit(work: _Work, landed: Future[tuple[int, int, LandingSummary]]) -> None:
        records, quarantined, counts = landed.result()
        _add(summary, counts)
        crash_point("before_manifest_commit")
        clock = time.thread_time()
        manifest.advance(work.file, records, quarantined)
        summary.add_cpu("manifest", clock, time.thread_time)
        crash_point("after_manifest_commit")
        if progress:
            progress(work.batch.end - work.batch.start)

    try:
        plans = _plan_files(files, manifest, summary)
        # Workers parse, pivot and write batches (deterministic file names) while this thread
        # commits them to the manifest strictly in order. Big backlogs get two worker
        # processes (pivoting holds the GIL part of the time; measured 1.5x the throughput
        # of threads on two cores); small increments a thread, to skip process start-up.
        pending = sum(plan.pending_bytes for plan in plans)
        if pending >= parallel_above_bytes:
            workers = ProcessPoolExecutor(
                max_workers=2,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_started,
            )
        else:
            workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otel-land")
        with workers:
            in_flight: deque[tuple[_Work, Future[tuple[int, int, LandingSummary]]]] = deque()
            clock = time.thread_time()
            for work in _batches(plans):
                # Reading the file and splitting it into whole messages.
                clock = summary.add_cpu("framing", clock, time.thread_time)
                in_flight.append(
                    (
                        work,
                        workers.submit(_land_batch, str(layout.root), work, privacy, key, register),
                    )
                )
                if len(in_flight) >= PIPELINE_DEPTH:
                    commit(*in_flight.popleft())
                clock = time.thread_time()
            while in_flight:
                commit(*in_flight.popleft())
        if isinstance(workers, ProcessPoolExecutor):
            # The main process's other threads: pickling batches to the workers and their
            # results back, planning, identity.
            main_thread = sum(summary.stage_cpu_seconds.get(name, 0.0) for name in MAIN_STAGES)
            summary.stage_cpu_seconds["hand-over to workers, planning"] = max(
                0.0, time.process_time() - process_clock - main_thread
            )
        clock = time.process_time()
        summary.compacted_partitions = compact_partitions(
            [layout.otel_events, layout.otel_metrics, layout.otel_content], threshold=compact_above
        )
        summary.add_cpu("compaction", clock, time.process_time)
    finally:
        manifest.close()
    return summary
