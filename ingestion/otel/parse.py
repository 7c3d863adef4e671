"""Parse OTLP/JSON lines into Arrow, isolating the lines that cannot be parsed.

Every non-blank line ends in exactly one place: a row of the parsed table, or a `BadLine`
(quarantined by the caller). Lines are screened before the columnar parse, because
pyarrow's reader crashes the process on a `null` line and does not check UTF-8.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ingestion.otel.schema import ANY_VALUE, OTLP_LINE, SCALAR_VALUE

# pyarrow parses blocks in parallel; a block must hold the longest line.
BLOCK_SIZE = 16 << 20
# Whitespace as bytes.strip() knows it: a line of only these is blank and holds nothing.
_WHITESPACE = np.frombuffer(b" \t\r\x0b\x0c", dtype=np.uint8)
_OPEN_BRACE = ord("{")
_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=OTLP_LINE, unexpected_field_behavior="ignore")


@dataclass(frozen=True)
class BadLine:
    """A line that could not be landed, with where it was and why."""

    offset: int
    error: str
    content: bytes


@dataclass(frozen=True)
class ParsedLines:
    """Lines parsed into one Arrow table (one row per line) and their byte offsets.

    Attributes:
        table: one row per good line (`OTLP_LINE`).
        offsets: the file offset of each row's line.
        bad_lines: the lines that could not be parsed, to quarantine.
        values_kept_as_text: attribute values nested deeper than the landing's schema
            (a kvlist inside a kvlist), landed as their JSON text.
    """

    table: pa.Table
    offsets: np.ndarray
    bad_lines: list[BadLine]
    values_kept_as_text: int = 0


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


# --- Screening: what must never reach pyarrow's reader -------------------------------------


def _screen_error(line: bytes) -> str | None:
    """Why a line cannot go to the columnar parser, or None."""
    if line.lstrip()[:1] != b"{":
        # Regression: a `null` line first in a block crashed the process (SIGSEGV).
        return "ValueError: line is not a JSON object"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        # pyarrow lands invalid UTF-8 as is; DuckDB then refuses the whole Parquet file.
        return f"UnicodeDecodeError: invalid UTF-8 at byte {error.start} of the line"
    return None


def _screen(data: bytes, starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, str]]:
    """(line index, reason) of the lines that are not whole UTF-8 JSON objects."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    suspects = np.flatnonzero(buffer[starts] != _OPEN_BRACE)
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            suspects = np.arange(len(starts))  # rare: find the lines that hold bad bytes
    screened = []
    for index in suspects.tolist():
        reason = _screen_error(data[starts[index] : ends[index]])
        if reason is not None:
            screened.append((index, reason))
    return screened


# --- Lines whose values are nested deeper than the schema ----------------------------------


def _nested_value_holders(array: pa.Array, owners: np.ndarray, found: list[np.ndarray]) -> None:
    """Collect the owners (line indices) of AnyValues nested below the schema's depth.

    A value inside an `arrayValue` or `kvlistValue` is read with the scalar fields only, so
    a deeper list or map there reads as all-null: such lines are re-read in Python.
    """
    kind = array.type
    if pa.types.is_list(kind):
        lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
        _nested_value_holders(array.flatten(), np.repeat(owners, lengths), found)
    elif kind == ANY_VALUE:
        items = array.field("arrayValue").field("values")
        lengths = pc.list_value_length(items).fill_null(0).to_numpy(zero_copy_only=False)
        item_owners = np.repeat(owners, lengths)
        inner = [(items.flatten(), item_owners)]
        pairs = array.field("kvlistValue").field("values")
        lengths = pc.list_value_length(pairs).fill_null(0).to_numpy(zero_copy_only=False)
        inner.append((pairs.flatten().field("value"), np.repeat(owners, lengths)))
        for values, value_owners in inner:
            if len(values) == 0:
                continue
            # Sent (not a null value), yet none of the scalar fields the schema reads is set.
            empty = pc.is_valid(values)
            for name in SCALAR_VALUE.names:
                empty = pc.and_(empty, pc.is_null(values.field(name)))
            hits = np.flatnonzero(empty.to_numpy(zero_copy_only=False))
            if len(hits):
                found.append(value_owners[hits])
    elif pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            _nested_value_holders(array.field(index), owners, found)


def lines_with_nested_values(table: pa.Table) -> np.ndarray:
    """Row indices of lines holding a value nested deeper than the schema (or an empty one)."""
    found: list[np.ndarray] = []
    owners = np.arange(table.num_rows, dtype=np.int64)
    for column in table.columns:
        _nested_value_holders(column.combine_chunks(), owners, found)
    return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)


# --- The per-line path: proto3 JSON as clients write it -----------------------------------

# 64-bit integers that the collector writes as strings and clients as numbers.
_INT64_KEYS = frozenset(
    {"intValue", "timeUnixNano", "observedTimeUnixNano", "startTimeUnixNano", "asInt", "count"}
)
# Doubles of the metric data points; proto3 JSON may write them as strings ("NaN", "1.5").
_DOUBLE_KEYS = frozenset({"asDouble", "sum", "min", "max"})
_SEVERITY_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# proto3 JSON allows enum names where the collector writes numbers.
_ENUM_NUMBERS = {
    "severityNumber": {
        "SEVERITY_NUMBER_UNSPECIFIED": 0,
        **{
            f"SEVERITY_NUMBER_{level}{'' if step == 1 else step}": 4 * index + step
            for index, level in enumerate(_SEVERITY_LEVELS)
            for step in range(1, 5)
        },
    },
    "aggregationTemporality": {
        "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
        "AGGREGATION_TEMPORALITY_DELTA": 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
    },
}
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*|\s*[-+]?(NaN|Infinity)\s*")


def _plain(value: object) -> object:
    """An OTLP AnyValue as plain JSON (a map for a kvlist, a list for an array)."""
    if not isinstance(value, dict):
        return value
    if "kvlistValue" in value:
        pairs = (value.get("kvlistValue") or {}).get("values") or []
        return {
            str(pair.get("key")): _plain(pair.get("value"))
            for pair in pairs
            if isinstance(pair, dict)
        }
    if "arrayValue" in value:
        return [_plain(item) for item in (value.get("arrayValue") or {}).get("values") or []]
    for name in ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue"):
        if name in value:
            return value[name]
    return None


class _Normaliser:
    """Rewrites one parsed line into the shape the columnar schema reads.

    Numbers sent as JSON numbers become strings where the collector writes strings, enum
    names become numbers, a double sent as text becomes text, and a value nested deeper
    than the schema becomes the JSON text of its plain form (counted), so nothing a client
    sent is silently read as null.
    """

    def __init__(self) -> None:
        self.kept_as_text = 0

    def _as_text(self, value: object) -> dict:
        self.kept_as_text += 1
        return {"stringValue": json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)}

    def any_value(self, value: object, depth: int) -> object:
        if value is None:
            return None
        if not isinstance(value, dict):
            return self._as_text({"stringValue": value})
        if depth > 0 and ("kvlistValue" in value or "arrayValue" in value):
            return self._as_text(value)
        out = dict(value)
        if "stringValue" in out and not isinstance(out["stringValue"], str | None):
            out["stringValue"] = json.dumps(out["stringValue"])
        if "intValue" in out:
            number = out["intValue"]
            if isinstance(number, bool) or not isinstance(number, int | float | str | None):
                return self._as_text(value)
            if isinstance(number, int | float):
                out["intValue"] = str(number)
        if "doubleValue" in out and not isinstance(out["doubleValue"], int | float | None):
            # "NaN", "Infinity" or "0.5" (proto3 JSON) or junk: read as text, so the typed
            # column rejects what is no number and keeps the raw value.
            text = out.pop("doubleValue")
            out["stringValue"] = text if isinstance(text, str) else json.dumps(text)
        if "boolValue" in out and not isinstance(out["boolValue"], bool | None):
            out["stringValue"] = json.dumps(out.pop("boolValue"))
        if "arrayValue" in out:
            array = out["arrayValue"] if isinstance(out["arrayValue"], dict) else {}
            items = array.get("values") if isinstance(array.get("values"), list) else []
            out["arrayValue"] = {"values": [self.any_value(item, depth + 1) for item in items]}
        if "kvlistValue" in out:
            kvlist = out["kvlistValue"] if isinstance(out["kvlistValue"], dict) else {}
            pairs = kvlist.get("values") if isinstance(kvlist.get("values"), list) else []
            out["kvlistValue"] = {"values": [self.key_value(pair, depth + 1) for pair in pairs]}
        return out

    def key_value(self, pair: object, depth: int) -> object:
        if not isinstance(pair, dict):
            return pair
        key = pair.get("key")
        return {
            **pair,
            "key": key if isinstance(key, str | None) else json.dumps(key),
            "value": self.any_value(pair.get("value"), depth),
        }

    def node(self, node: object) -> object:
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "attributes" and isinstance(value, list):
                out[key] = [self.key_value(pair, 0) for pair in value]
            elif key == "body":
                out[key] = self.any_value(value, 0)
            elif (
                key in _INT64_KEYS
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                out[key] = str(value)
            elif key in _DOUBLE_KEYS and isinstance(value, str):
                out[key] = float(value) if _NUMBER.fullmatch(value) else None
            elif key in _ENUM_NUMBERS and isinstance(value, str):
                out[key] = _ENUM_NUMBERS[key].get(value.strip())
            elif key == "bucketCounts" and isinstance(value, list):
                out[key] = [str(count) if isinstance(count, int) else count for count in value]
            else:
                out[key] = self.node(value)
        return out


def _parse_block(data: bytes, longest_line: int | None = None) -> pa.Table:
    longest = len(data) if longest_line is None else longest_line
    return pa_json.read_json(
        io.BytesIO(data),
        read_options=pa_json.ReadOptions(block_size=max(BLOCK_SIZE, longest + 2), use_threads=True),
        parse_options=_PARSE_OPTIONS,
    )


def _one_row(table: pa.Table) -> pa.Table:
    if table.num_rows != 1:
        raise ValueError(f"line holds {table.num_rows} JSON values, not one object")
    return table


def _parse_one(line: bytes, rewrite: bool = False) -> tuple[pa.Table, int]:
    """Parse a single line, accepting what clients write where the collector writes otherwise.

    Returns:
        The one-row table, and how many values were kept as JSON text.
    """
    if not rewrite:
        try:
            return _one_row(_parse_block(line + b"\n")), 0
        except (pa.ArrowInvalid, ValueError):
            pass
    document = json.loads(line)  # raises on malformed JSON: the caller quarantines
    if not isinstance(document, dict):
        raise ValueError("line is not a JSON object")
    normaliser = _Normaliser()
    normalised = json.dumps(normaliser.node(document), ensure_ascii=False).encode()
    return _one_row(_parse_block(normalised + b"\n")), normaliser.kept_as_text


def _bad_line(offset: int, error: BaseException | str, content: bytes) -> BadLine:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return BadLine(int(offset), text[:500], content)


def _line_by_line(
    data: bytes, starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, rewrite: set[int]
) -> ParsedLines:
    """The slow path, for blocks holding a bad or unusual line: one line at a time."""
    tables, good, bad, kept = [], [], [], 0
    for index, (start, end, offset) in enumerate(zip(starts, ends, offsets, strict=True)):
        line = data[start:end]
        try:
            table, kept_here = _parse_one(line, rewrite=index in rewrite)
        except (ValueError, UnicodeError, RecursionError, pa.ArrowException) as error:
            bad.append(_bad_line(offset, error, line))
            continue
        tables.append(table)
        good.append(offset)
        kept += kept_here
    table = pa.concat_tables(tables) if tables else pa.Table.from_batches([], OTLP_LINE)
    return ParsedLines(table, np.asarray(good, dtype=np.int64), bad, kept)


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
    screened = _screen(data, starts, ends)
    bad = [
        _bad_line(offsets[index], reason, data[starts[index] : ends[index]])
        for index, reason in screened
    ]
    if screened:
        keep = np.ones(len(starts), dtype=bool)
        keep[[index for index, _ in screened]] = False
        data = b"".join(
            data[start : end + 1] for start, end in zip(starts[keep], ends[keep], strict=True)
        )
        offsets = offsets[keep]
        starts, ends = line_spans(data)
        if len(starts) == 0:
            return ParsedLines(pa.Table.from_batches([], OTLP_LINE), np.empty(0, np.int64), bad)
    try:
        table = _parse_block(data, int((ends - starts).max()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = None
    if table is not None and table.num_rows == len(starts):
        nested = lines_with_nested_values(table)
        if len(nested) == 0:
            return ParsedLines(table, offsets, bad)
        rewrite = set(nested.tolist())
    else:
        rewrite = set()
    parsed = _line_by_line(data, starts, ends, offsets, rewrite)
    return ParsedLines(
        parsed.table, parsed.offsets, bad + parsed.bad_lines, parsed.values_kept_as_text
    )
