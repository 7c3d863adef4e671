"""Parse OTLP/JSON lines into Arrow, isolating the lines that cannot be parsed."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from ingestion.otel.schema import OTLP_LINE

# pyarrow parses blocks in parallel; a block must hold the longest line.
BLOCK_SIZE = 16 << 20
_WHITESPACE = np.frombuffer(b" \t\r", dtype=np.uint8)
_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=OTLP_LINE, unexpected_field_behavior="ignore")


@dataclass(frozen=True)
class BadLine:
    """A line that could not be landed, with where it was and why."""

    offset: int
    error: str
    content: bytes


@dataclass(frozen=True)
class ParsedLines:
    """Lines parsed into one Arrow table (one row per line) and their byte offsets."""

    table: pa.Table
    offsets: np.ndarray
    bad_lines: list[BadLine]


def line_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the lines of `data` that hold anything but whitespace.

    `data` ends with a newline. pyarrow skips blank lines, and so do we.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if len(buffer) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ends = np.flatnonzero(buffer == 10)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    # Only a line that starts with whitespace (or is empty) can be blank: check those few.
    first = buffer[np.minimum(starts, len(buffer) - 1)]
    suspects = np.flatnonzero((ends == starts) | np.isin(first, _WHITESPACE))
    keep = np.ones(len(starts), dtype=bool)
    for index in suspects:
        keep[index] = bool(data[starts[index] : ends[index]].strip())
    return starts[keep], ends[keep]


_INT64_KEYS = (
    "intValue",
    "timeUnixNano",
    "observedTimeUnixNano",
    "startTimeUnixNano",
    "asInt",
    "count",
)


def _normalise_numbers(node: object) -> object:
    """Turn 64-bit ints sent as JSON numbers into strings, as the collector writes them."""
    if isinstance(node, dict):
        if isinstance(node.get("bucketCounts"), list):
            node = {**node, "bucketCounts": [str(count) for count in node["bucketCounts"]]}
        return {
            key: str(value)
            if key in _INT64_KEYS and isinstance(value, int | float)
            else _normalise_numbers(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_normalise_numbers(item) for item in node]
    return node


def _parse_block(data: bytes, longest_line: int | None = None) -> pa.Table:
    longest = len(data) if longest_line is None else longest_line
    return pa_json.read_json(
        io.BytesIO(data),
        read_options=pa_json.ReadOptions(block_size=max(BLOCK_SIZE, longest + 2), use_threads=True),
        parse_options=_PARSE_OPTIONS,
    )


def _parse_one(line: bytes) -> pa.Table:
    """Parse a single line, accepting numbers where the collector writes strings."""
    try:
        return _parse_block(line + b"\n")
    except pa.ArrowInvalid:
        document = json.loads(line)  # raises on malformed JSON: the caller quarantines
        if not isinstance(document, dict):
            raise ValueError("line is not a JSON object") from None
        normalised = json.dumps(_normalise_numbers(document)).encode()
        return _parse_block(normalised + b"\n")


def parse_lines(
    data: bytes, base_offset: int, line_offsets: np.ndarray | None = None
) -> ParsedLines:
    """Parse complete OTLP/JSON lines.

    Args:
        data: whole lines, ending with a newline.
        base_offset: byte offset of `data` in its file, for provenance.
        line_offsets: the file offset of each non-blank line, when `data` is not a verbatim
            slice of the file (lines decoded from framed or compressed files).

    Returns:
        One row per good line, the file offset of each, and the lines that failed.
    """
    starts, ends = line_spans(data)
    offsets = starts + base_offset if line_offsets is None else np.asarray(line_offsets)
    if len(offsets) != len(starts):
        raise ValueError(f"{len(offsets)} line offsets for {len(starts)} lines")
    if len(starts) == 0:
        return ParsedLines(pa.Table.from_batches([], OTLP_LINE), np.empty(0, np.int64), [])
    try:
        table = _parse_block(data, int((ends - starts).max()))
        if table.num_rows == len(starts):
            return ParsedLines(table, offsets, [])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Slow path, only for blocks that hold a bad line: parse line by line to isolate it.
    tables, good, bad = [], [], []
    for start, end, offset in zip(starts, ends, offsets, strict=True):
        line = data[start:end]
        try:
            tables.append(_parse_one(line))
            good.append(offset)
        except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            bad.append(BadLine(int(offset), f"{type(error).__name__}: {error}"[:500], line))
    table = pa.concat_tables(tables) if tables else pa.Table.from_batches([], OTLP_LINE)
    return ParsedLines(table, np.asarray(good, dtype=np.int64), bad)
