"""Read the collector's files in any of its framings, as batches of OTLP/JSON lines.

The `file` exporter writes (spec §3.2):
- `format: json`, no compression: one OTLP/JSON message per line;
- `format: proto`, or any `compression`: `[4-byte big-endian length][payload]` repeated,
  each payload protobuf, or a zstd frame of JSON or protobuf;
- with the `exporter.file.nativeCompression` gate: a standard `.zst` stream, one complete
  frame per write, holding either of the above.
The framing is detected from the content, not the name. Every reader yields whole messages
only: a partial tail of a live file waits for the next run, while a partial tail of a
rotated file (which will never grow) is reported as bad, so nothing is silently dropped.
A rotated JSON-lines file's last message without its newline is whole and lands: the
exporter writes a message and its newline in two writes, and a rotation can fall between.
Protobuf payloads are re-encoded as OTLP/JSON so that one columnar parser serves all.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zstandard
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from ingestion.otel.otlp_json import encode_logs_json, encode_metrics_json
from ingestion.otel.parse import BadLine

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
FRAMING_PROBE_BYTES = 4096
# Framing detection reads on through a first line this long (a fragment cut by rotation,
# or a byte-order mark before a line: real lines are 2-14 KB, batches far larger).
FRAMING_READ_LIMIT = 64 << 20
CHUNK_BYTES = 8 << 20
# A message larger than this is taken as a sign that the file is not length-prefixed.
MAX_MESSAGE_BYTES = 1 << 30
_READ_PIECE = 4 << 20
# Rotated files carry the rotation time and, from the exporter's timberjack, the reason:
# `logs-2026-03-10T08-00-00.000-size.jsonl` (lumberjack wrote `logs-<time>.jsonl`).
_ROTATED_NAME = re.compile(r"-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d+)?(-[a-z]+)?(\.|$)")


class Framing(enum.Enum):
    """How a file's messages are laid out."""

    EMPTY = "empty"
    JSON_LINES = "json lines"
    LENGTH_PREFIXED = "length-prefixed"
    ZSTD_STREAM = "zstd stream"
    UNKNOWN = "unknown"


@dataclass
class Batch:
    """Whole OTLP/JSON lines read from a file, with where they came from.

    Attributes:
        data: lines, each ending with a newline.
        start: file offset where this batch's bytes begin.
        end: file offset just after them; the manifest may advance to it once landed.
        line_offsets: file offset of each non-blank line, or None when `data` is a verbatim
            slice of the file starting at `start` (JSON lines).
        bad: messages that could not be decoded, to quarantine.
    """

    data: bytes
    start: int
    end: int
    line_offsets: np.ndarray | None = None
    bad: list[BadLine] = field(default_factory=list)


def is_rotated(path: Path) -> bool:
    """Whether the file is a rotated one (complete, never written again)."""
    return bool(_ROTATED_NAME.search(path.name))


def _looks_like_otlp_proto(payload: bytes) -> bool:
    # Both export requests start with field 1 (resource_logs / resource_metrics), a
    # length-delimited field: tag byte 0x0A.
    return payload[:1] == b"\x0a"


def detect_framing(head: bytes) -> Framing:
    """Tell the framing from the first bytes of a file."""
    head = head.removeprefix(BYTE_ORDER_MARK)
    if not head.strip():
        return Framing.EMPTY
    if head.startswith(ZSTD_MAGIC):
        return Framing.ZSTD_STREAM
    if head.lstrip()[:1] == b"{":
        return Framing.JSON_LINES
    newline = head.find(b"\n")
    if newline >= 0 and head[newline + 1 :].lstrip()[:1] == b"{":
        # A live file that starts with the rest of a line cut by rotation (F3).
        return Framing.JSON_LINES
    if len(head) >= 5:
        size = int.from_bytes(head[:4], "big")
        payload = head[4:]
        if 0 < size <= MAX_MESSAGE_BYTES and (
            payload.startswith(ZSTD_MAGIC) or _looks_like_otlp_proto(payload)
        ):
            return Framing.LENGTH_PREFIXED
    return Framing.UNKNOWN


def detect_file_framing(path: Path) -> Framing:
    """Tell a file's framing, reading past a first line longer than the usual probe.

    Raises:
        OSError: the file cannot be read.
    """
    with path.open("rb") as handle:
        head = handle.read(FRAMING_PROBE_BYTES)
        framing = detect_framing(head)
        if framing is not Framing.UNKNOWN or b"\n" in head:
            return framing
        # No newline yet: maybe a long fragment first; read on to the line after it.
        while len(head) < FRAMING_READ_LIMIT:
            more = handle.read(1 << 20)
            if not more:
                break
            head += more
            newline = head.find(b"\n")
            if newline >= 0:
                if len(head) - newline <= FRAMING_PROBE_BYTES:
                    head += handle.read(FRAMING_PROBE_BYTES)
                return detect_framing(head)
        return framing


def _decompress(payload: bytes) -> bytes:
    # Frames written by the exporter may not declare their content size.
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    data = decompressor.decompress(payload)
    if not decompressor.eof:
        raise ValueError("truncated zstd frame")
    return data


def payload_to_json_line(payload: bytes) -> bytes:
    """One exporter payload (JSON, protobuf, or zstd of either) as an OTLP/JSON line.

    Raises:
        ValueError: the payload is neither (the caller quarantines it).
    """
    if payload.startswith(ZSTD_MAGIC):
        try:
            payload = _decompress(payload)
        except zstandard.ZstdError as error:
            raise ValueError(f"bad zstd frame: {error}") from error
    if payload.lstrip()[:1] == b"{":
        return payload.strip() + b"\n"
    try:
        metrics = ExportMetricsServiceRequest.FromString(payload)
        # A logs request also parses as metrics (same field numbers at the top), but its
        # "metrics" have no names: a Metric's name is field 1, a LogRecord's is a fixed64.
        names = [
            m.name for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        ]
        if names and all(names):
            return encode_metrics_json(metrics).encode() + b"\n"
    except DecodeError:
        pass
    try:
        return encode_logs_json(ExportLogsServiceRequest.FromString(payload)).encode() + b"\n"
    except DecodeError as error:
        raise ValueError(f"not an OTLP protobuf message: {error}") from error


def _bad(offset: int, error: str, content: bytes) -> BadLine:
    return BadLine(offset, error[:500], content)


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:  # includes UnicodeDecodeError
        return False


def read_json_lines(path: Path, offset: int, rotated: bool) -> Iterator[Batch]:
    """Whole lines from `offset` in bounded batches."""
    with path.open("rb") as handle:
        if offset == 0 and handle.read(len(BYTE_ORDER_MARK)) == BYTE_ORDER_MARK:
            # Quarantine the mark alone: the line after it is whole and lands.
            mark = _bad(0, "byte-order mark at the start of the file", BYTE_ORDER_MARK)
            yield Batch(b"", 0, len(BYTE_ORDER_MARK), bad=[mark])
            offset = len(BYTE_ORDER_MARK)
        handle.seek(offset)
        carry = b""
        while True:
            block = handle.read(CHUNK_BYTES)
            if not block:
                break
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut < 0:  # one line longer than a chunk: keep reading until it ends
                carry = data
                continue
            yield Batch(data[: cut + 1], offset, offset + cut + 1)
            offset += cut + 1
            carry = data[cut + 1 :]
        if carry and rotated:
            if _is_json_object(carry):
                # The exporter writes a message and its newline in two writes; a rotation
                # between them leaves the message whole without its newline. It lands.
                line_offsets = np.asarray([offset], dtype=np.int64)
                yield Batch(carry.strip() + b"\n", offset, offset + len(carry), line_offsets)
            else:
                yield Batch(
                    b"",
                    offset,
                    offset + len(carry),
                    bad=[_bad(offset, "truncated last line of a rotated file", carry)],
                )


def _batched(messages: Iterator[tuple[int, int, bytes | None, BadLine | None]]) -> Iterator[Batch]:
    """Group decoded messages (start, end, JSON line or None, bad or None) into batches."""
    lines: list[bytes] = []
    offsets: list[int] = []
    bad: list[BadLine] = []
    start = end = None
    size = 0
    for message_start, message_end, line, problem in messages:
        start = message_start if start is None else start
        end = message_end
        if line is not None:
            lines.append(line)
            offsets.append(message_start)
            size += len(line)
        if problem is not None:
            bad.append(problem)
        if size >= CHUNK_BYTES:
            yield Batch(b"".join(lines), start, end, np.asarray(offsets, dtype=np.int64), bad)
            lines, offsets, bad, start, size = [], [], [], None, 0
    if start is not None:
        yield Batch(b"".join(lines), start, end, np.asarray(offsets, dtype=np.int64), bad)


def _length_prefixed_messages(data: bytes, base: int, complete: bool):
    """Split `[length][payload]...` into messages; stop before an incomplete one.

    Yields (start, end, JSON line or None, bad or None); the last item may be a truncated
    tail, reported as bad only when `complete` (the data will never grow).
    """
    position = 0
    while position < len(data):
        if len(data) - position < 4:
            break
        size = int.from_bytes(data[position : position + 4], "big")
        if size > MAX_MESSAGE_BYTES:
            # Framing is lost; everything after here is one bad region.
            yield (
                base + position,
                base + len(data),
                None,
                _bad(base + position, f"implausible message length {size}", data[position:]),
            )
            return
        end = position + 4 + size
        if end > len(data):
            break
        payload = data[position + 4 : end]
        try:
            yield base + position, base + end, payload_to_json_line(payload), None
        except ValueError as error:
            yield base + position, base + end, None, _bad(base + position, str(error), payload)
        position = end
    if complete and position < len(data):
        yield (
            base + position,
            base + len(data),
            None,
            _bad(
                base + position, "truncated message at the end of a complete file", data[position:]
            ),
        )


def read_length_prefixed(path: Path, offset: int, rotated: bool) -> Iterator[Batch]:
    """Messages from `offset` of a length-prefixed file (protobuf or zstd payloads)."""

    def messages():
        nonlocal offset
        with path.open("rb") as handle:
            handle.seek(offset)
            carry = b""
            while True:
                block = handle.read(CHUNK_BYTES)
                data = carry + block if carry else block
                at_end = not block
                consumed = 0
                for message in _length_prefixed_messages(data, offset, complete=at_end and rotated):
                    consumed = message[1] - offset
                    yield message
                offset += consumed
                carry = data[consumed:]
                if at_end:
                    return

    yield from _batched(messages())


def _next_frame_start(path: Path, after: int) -> int:
    """File offset of the next zstd magic number after `after`, or the file size."""
    with path.open("rb") as handle:
        handle.seek(after)
        position, tail = after, b""
        while block := handle.read(_READ_PIECE):
            found = (tail + block).find(ZSTD_MAGIC)
            if found >= 0:
                return position - len(tail) + found
            position += len(block)
            tail = block[-(len(ZSTD_MAGIC) - 1) :]
        return position


def _zstd_frames(path: Path, offset: int, rotated: bool):
    """(start, end, decompressed bytes or None for a bad region) of each frame from `offset`.

    A truncated last frame waits on a live file and is bad on a rotated one; a corrupt
    frame is bad up to the next frame's magic number, where reading resumes.
    """
    decompressor = zstandard.ZstdDecompressor()
    while True:
        with path.open("rb") as handle:
            handle.seek(offset)
            pending = b""
            while True:
                frame = decompressor.decompressobj()
                pieces, consumed = [], 0
                source = pending
                try:
                    while not frame.eof:
                        if not source:
                            source = handle.read(_READ_PIECE)
                            if not source:
                                break
                        pieces.append(frame.decompress(source))
                        consumed += len(source)
                        source = b""
                except zstandard.ZstdError:
                    break  # corrupt: skip to the next frame below
                if not frame.eof:
                    if consumed and rotated:
                        yield offset, offset + consumed, None
                    return
                pending = frame.unused_data
                end = offset + consumed - len(pending)
                yield offset, end, b"".join(pieces)
                offset = end
        resume = _next_frame_start(path, offset + 1)
        yield offset, resume, None
        offset = resume


def read_zstd_stream(path: Path, offset: int, rotated: bool) -> Iterator[Batch]:
    """Messages from `offset` of a standard zstd stream (nativeCompression)."""

    def messages():
        for start, end, content in _zstd_frames(path, offset, rotated):
            if content is None:
                with path.open("rb") as handle:
                    handle.seek(start)
                    raw = handle.read(min(end - start, 1 << 20))
                yield start, end, None, _bad(start, "corrupt or truncated zstd frame", raw)
                continue
            if content.lstrip()[:1] == b"{" or not content.strip():
                # One write's JSON lines; every line of the frame shares the frame's offset.
                for line in content.splitlines():
                    if line.strip():
                        yield start, end, line.strip() + b"\n", None
                if not content.strip():
                    yield start, end, None, None
                continue
            produced = False
            for message in _length_prefixed_messages(content, 0, complete=True):
                produced = True
                _, _, line, problem = message
                if problem is not None:
                    problem = _bad(start, problem.error, problem.content)
                yield start, end, line, problem
            if not produced:
                yield start, end, None, None

    yield from _batched(messages())


def read_batches(path: Path, offset: int, framing: Framing) -> Iterator[Batch]:
    """Batches of whole messages from `offset`, for a file of the given framing."""
    rotated = is_rotated(path)
    if framing is Framing.JSON_LINES:
        yield from read_json_lines(path, offset, rotated)
    elif framing is Framing.LENGTH_PREFIXED:
        yield from read_length_prefixed(path, offset, rotated)
    elif framing is Framing.ZSTD_STREAM:
        yield from read_zstd_stream(path, offset, rotated)
    else:
        raise ValueError(f"{path}: cannot read framing {framing.value}")
