"""Turn parsed OTLP/JSON lines into one typed row per log record, column by column.

No per-record Python: nested lists are flattened with their offsets, each known attribute
key is scattered into its column with numpy indexing, and values are coerced by key (the
same key arrives as intValue, doubleValue or a string, depending on the client).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.otel.schema import (
    ARROW_TYPES,
    BOOL,
    DOUBLE,
    EVENTS_SCHEMA,
    INT,
    NON_NEGATIVE_COLUMNS,
    NULL_MARKERS,
    RECORD_COLUMNS,
    RESOURCE_COLUMNS,
    STRING,
    STRING_LIST,
)
from ingestion.otel.security import classify_tool_calls

_SCALAR_NAMES = ("stringValue", "intValue", "doubleValue", "boolValue")
# Whitespace around a number, as utf8_trim_whitespace strips it before the cast. RE2's `\s`
# lacks the vertical tab, which made "0\v" null while " 0 " read as 0.
_SPACE = r"[\s\v]*"
_INT_PATTERN = rf"^{_SPACE}[-+]?\d{{1,18}}{_SPACE}$"
_DOUBLE_PATTERN = rf"^{_SPACE}[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?{_SPACE}$"
_ISO_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$"


def _flatten(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Child values of a list array, and for each value the index of its parent list."""
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    parents = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    return lists.flatten(), parents


def _only_matching(strings: pa.Array, pattern: str) -> pa.Array:
    return pc.if_else(
        pc.match_substring_regex(strings, pattern), strings, pa.scalar(None, pa.string())
    )


def _int_from_strings(strings: pa.Array) -> pa.Array:
    return pc.cast(pc.utf8_trim_whitespace(_only_matching(strings, _INT_PATTERN)), pa.int64())


def _double_from_strings(strings: pa.Array) -> pa.Array:
    return pc.cast(pc.utf8_trim_whitespace(_only_matching(strings, _DOUBLE_PATTERN)), pa.float64())


def _int_from_doubles(doubles: pa.Array) -> pa.Array:
    # Regression: 1e19 used to wrap around to -2**63; out-of-range values become null.
    in_range = pc.and_(pc.is_finite(doubles), pc.less(pc.abs(doubles), 9.2e18))
    finite = pc.if_else(in_range, doubles, pa.scalar(None, pa.float64()))
    return pc.cast(pc.round(finite), pa.int64(), safe=False)


def _sent(array: pa.Array) -> bool:
    """Whether any value is set (an all-null child adds nothing to a coalesce)."""
    return array.null_count < len(array)


def _first_set(candidates: list[pa.Array], empty: pa.Array) -> pa.Array:
    """`coalesce(*candidates)`, or `empty` (all null) when there is no candidate.

    Most keys arrive as one OTLP value kind, so most coalesces have one input and cost nothing.
    """
    if not candidates:
        return empty
    return candidates[0] if len(candidates) == 1 else pc.coalesce(*candidates)


def _scalar_text(values: pa.StructArray) -> pa.Array:
    string_value = values.field("stringValue")
    candidates = [string_value, values.field("intValue")]
    candidates += [
        pc.cast(values.field(name), pa.string())
        for name in ("doubleValue", "boolValue")
        if _sent(values.field(name))
    ]
    return _first_set([text for text in candidates if _sent(text)], string_value)


def coerce(values: pa.StructArray, kind: str) -> pa.Array:
    """Coerce OTLP AnyValues to one Arrow type, whatever OTLP type each value came as.

    Strings that do not hold a value of the type (such as `status_code` "undefined") become
    null; the raw value is still in the source file and its hash.
    """
    string_value = values.field("stringValue")
    int_value = values.field("intValue")
    double_value = values.field("doubleValue")
    if kind == STRING:
        return _scalar_text(values)
    bool_value = values.field("boolValue")
    # Each kind coalesces its readings of the value kinds actually sent, in this order.
    if kind == INT:
        readings = []
        if _sent(int_value):
            readings.append(_int_from_strings(int_value))
        if _sent(double_value):
            readings.append(_int_from_doubles(double_value))
        if _sent(string_value):
            readings.append(_int_from_strings(string_value))
            readings.append(_int_from_doubles(_double_from_strings(string_value)))
        if _sent(bool_value):
            readings.append(pc.cast(bool_value, pa.int64()))
        return _first_set(readings, pa.nulls(len(values), pa.int64()))
    if kind == DOUBLE:
        readings = [double_value] if _sent(double_value) else []
        if _sent(int_value):
            # An int beyond 2**53 has no exact double: round it, as any JSON reader does
            # (a safe cast would fail the whole batch on one such value).
            readings.append(pc.cast(_int_from_strings(int_value), pa.float64(), safe=False))
        if _sent(string_value):
            readings.append(_double_from_strings(string_value))
        number = _first_set(readings, pa.nulls(len(values), pa.float64()))
        # Infinity and NaN ("1e400", protobuf JSON's "NaN") are no amount of anything.
        return pc.if_else(pc.is_finite(number), number, pa.scalar(None, pa.float64()))
    if kind == BOOL:
        readings = [bool_value] if _sent(bool_value) else []
        if _sent(string_value):
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(string_value))
            readings.append(
                pc.if_else(
                    pc.is_in(lowered, pa.array(["true", "false"])),
                    pc.equal(lowered, "true"),
                    pa.scalar(None, pa.bool_()),
                )
            )
        if _sent(int_value):
            readings.append(pc.not_equal(_int_from_strings(int_value), 0))
        return _first_set(readings, pa.nulls(len(values), pa.bool_()))
    if kind == STRING_LIST:
        values = pa.concat_arrays([values])  # rebase a slice: list offsets must start at 0
        array_value = values.field("arrayValue")
        arrays = array_value.field("values")
        # A child of a null struct is not itself null in Arrow: mask by both levels.
        absent = pc.or_(pc.is_null(array_value), pc.is_null(arrays))
        items = _scalar_text(arrays.values)
        listed = pa.ListArray.from_arrays(arrays.offsets, items, mask=absent)
        single = pa.ListArray.from_arrays(
            pa.array(np.arange(len(values) + 1, dtype=np.int32)),
            string_value,
            mask=pc.is_null(string_value),
        )
        return pc.coalesce(listed, single)
    raise ValueError(f"unknown column kind {kind!r}")


@dataclass(frozen=True)
class Rejected:
    """Values of a promoted key that were sent but are not a value of its type.

    The typed column holds null for them; the raw text is kept (see `rejected_json`).
    """

    key: str
    rows: np.ndarray
    raw: list[str]


def _valid(typed: pa.Array, column: str) -> pa.Array:
    """`typed` with impossible values (a negative cost, token count or duration) nulled."""
    if column not in NON_NEGATIVE_COLUMNS:
        return typed
    return pc.if_else(pc.greater_equal(typed, 0), typed, pa.scalar(None, typed.type))


def _rejected(raw: pa.Array, typed: pa.Array) -> np.ndarray:
    """Positions where a value was sent (not a documented null marker) but did not type."""
    sent = pc.and_(
        pc.is_valid(raw), pc.invert(pc.is_in(pc.utf8_lower(raw), value_set=NULL_MARKERS))
    )
    return np.flatnonzero(pc.and_(sent, pc.is_null(typed)).to_numpy(zero_copy_only=False))


def _pivot(
    entries: pa.StructArray,
    parents: np.ndarray,
    rows: int,
    columns: tuple[tuple[str, str, str], ...],
) -> tuple[dict[str, pa.Array], np.ndarray, list[Rejected]]:
    """Scatter the entries of known keys into typed columns.

    Entries are grouped by key with one stable sort of the key codes, so each key's values
    are a zero-copy slice of a single reordered array.

    Returns:
        The columns, a mask of the entries left for the JSON catch-all, and the values that
        were sent for a typed column but could not be typed (or were impossible).
    """
    # A null key is a key of its own (never a promoted one), not a null code.
    keys = pc.dictionary_encode(entries.field("key"), null_encoding="encode")
    codes = keys.indices.to_numpy(zero_copy_only=False)
    if len(keys.dictionary) < 2**15:
        codes = codes.astype(np.int16)  # numpy sorts 16-bit keys with a radix sort
    code_of = {key: code for code, key in enumerate(keys.dictionary.to_pylist())}
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    wanted = [code_of[key] for _, key, _ in columns if key in code_of]
    starts = np.searchsorted(sorted_codes, wanted, side="left")
    ends = np.searchsorted(sorted_codes, wanted, side="right")
    span_of = dict(zip(wanted, zip(starts, ends, strict=True), strict=True))
    known = np.zeros(len(entries), dtype=bool)
    for start, end in span_of.values():
        known[order[start:end]] = True
    value = entries.field("value")
    scalars = [value.field(name) for name in _SCALAR_NAMES]
    scalars_sent = [_sent(child) for child in scalars]
    # A list or map sent where a number or flag belongs is rejected too (not silently null).
    structured = pc.or_(
        pc.is_valid(value.field("arrayValue")), pc.is_valid(value.field("kvlistValue"))
    )
    out: dict[str, pa.Array] = {}
    rejected: list[Rejected] = []
    for column, key, kind in columns:
        code = code_of.get(key)
        if code is None:
            out[column] = pa.nulls(rows, ARROW_TYPES[kind])
            continue
        start, end = span_of[code]
        positions = order[start:end]
        take = pa.array(positions)
        # Take only the flat children a kind needs: taking the whole struct would also copy
        # its nested list children, which costs more than everything else here.
        children = [
            child.take(take) if sent else pa.nulls(len(take), child.type)
            for child, sent in zip(scalars, scalars_sent, strict=True)
        ]
        names = list(_SCALAR_NAMES)
        if kind == STRING_LIST:
            children.append(value.field("arrayValue").take(take))
            names.append("arrayValue")
        sent = pa.StructArray.from_arrays(children, names=names)
        typed = coerce(sent, kind)
        scatter = np.full(rows, -1, dtype=np.int64)
        scatter[parents[positions]] = np.arange(end - start)  # a repeated key: last wins
        if kind not in (STRING, STRING_LIST):
            typed = _valid(typed, column)
            raw = pc.coalesce(
                _scalar_text(sent),
                pc.if_else(structured.take(take), "(a list or map)", pa.scalar(None, pa.string())),
            )
            # Every value typed: nothing was rejected (the common case, checked for free).
            bad = _rejected(raw, typed) if typed.null_count else np.empty(0, np.int64)
            # Only the value that wins the scatter counts (a repeated key: the last one).
            bad = bad[scatter[parents[positions[bad]]] == bad]
            if len(bad):
                rejected.append(
                    Rejected(key, parents[positions[bad]], raw.take(pa.array(bad)).to_pylist())
                )
        out[column] = typed.take(pa.array(scatter, mask=scatter < 0)).cast(ARROW_TYPES[kind])
    return out, ~known, rejected


def rejected_json(rejections: list[Rejected], rows: int) -> pa.Array:
    """Per row, a JSON object of its rejected values (key: raw text as sent), or null."""
    by_row: dict[int, dict[str, str]] = {}
    for rejection in rejections:
        for row, raw in zip(rejection.rows.tolist(), rejection.raw, strict=True):
            by_row.setdefault(row, {})[rejection.key] = raw
    if not by_row:
        return pa.nulls(rows, pa.string())
    texts: list[str | None] = [None] * rows
    for row, values in by_row.items():
        texts[row] = json.dumps(values, ensure_ascii=False, sort_keys=True)
    return pa.array(texts, pa.string())


_JSON_VALUE = """
    case
        when stringValue is not null then to_json(stringValue)
        when intValue is not null
            then coalesce(to_json(try_cast(intValue as hugeint)), to_json(intValue))
        when doubleValue is not null then to_json(doubleValue)
        when boolValue is not null then to_json(boolValue)
        when arrayValue is not null then to_json(list_transform(
            arrayValue."values", lambda item: coalesce(item.stringValue, item.intValue,
            cast(item.doubleValue as varchar), cast(item.boolValue as varchar))))
        when kvlistValue is not null then to_json(kvlistValue)
        when bytesValue is not null then to_json(bytesValue)
        else 'null'
    end
"""


def _join_per_row(values: pa.Array, counts: np.ndarray, separator: str) -> pa.Array:
    """Join consecutive runs of `values` (`counts[i]` of them for row i) into one string."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), separator)


def leftover_json(
    connection: duckdb.DuckDBPyConnection,
    entries: pa.StructArray,
    parents: np.ndarray,
    leftover: np.ndarray,
    rows: int,
) -> pa.Array:
    """Per row, a JSON object of the attributes not promoted to columns (or null).

    Entries are contiguous per row (they come from flattening a list column), so per-row
    objects are joins over runs; only the JSON escaping goes through DuckDB.
    """
    values = entries.field("value")
    chosen = np.flatnonzero(leftover)
    if len(chosen) == 0:
        return pa.nulls(rows, pa.string())
    picked = entries.take(pa.array(chosen))
    flat = pa.table(
        {
            "key": picked.field("key"),
            **{name: picked.field("value").field(name) for name in values.type.names},
        }
    )
    connection.register("flat_entries", flat)
    fragments = (
        connection.sql(
            "select to_json(key) || ':' || __JSON_VALUE__ as fragment from flat_entries".replace(
                "__JSON_VALUE__", _JSON_VALUE
            )
        )
        .to_arrow_table()
        .column("fragment")
        .combine_chunks()
    )
    connection.unregister("flat_entries")
    counts = np.bincount(parents[chosen], minlength=rows)
    joined = _join_per_row(fragments, counts, ",")
    wrapped = pc.binary_join_element_wise("{", joined, "}", "")
    return pc.if_else(pa.array(counts > 0), wrapped, pa.scalar(None, pa.string()))


def _where_valid(container: pa.Array, text: pa.Array) -> pa.Array:
    """`text` where `container` (an array or map value) was sent, else null."""
    return pc.if_else(pc.is_valid(container), text, pa.scalar(None, pa.string()))


def canonical_attributes(entries: pa.StructArray, parents: np.ndarray, rows: int) -> pa.Array:
    """Per row, its attributes as one text `key=value<US>key=value...` in the order sent.

    Entries are contiguous per row (they come from flattening a list column), so this is
    one element-wise join and one join over runs, all in Arrow.
    """
    values = entries.field("value")
    items = values.field("arrayValue").field("values")
    array_text = pc.binary_join(
        pa.ListArray.from_arrays(items.offsets, _scalar_text(items.values)), "\x1e"
    )
    # A map value (kvlist) counts too: records differing only there are different records.
    kvlist = values.field("kvlistValue").field("values")
    kvlist_pairs = pc.binary_join_element_wise(
        kvlist.values.field("key"), _scalar_text(kvlist.values.field("value")), "="
    )
    kvlist_text = pc.binary_join(pa.ListArray.from_arrays(kvlist.offsets, kvlist_pairs), "\x1e")
    text = pc.coalesce(
        _scalar_text(values),
        _where_valid(values.field("arrayValue"), array_text),
        _where_valid(values.field("kvlistValue"), kvlist_text),
        pa.scalar("", pa.string()),
    )
    pairs = pc.binary_join_element_wise(entries.field("key"), text, "=")
    return _join_per_row(pairs, np.bincount(parents, minlength=rows), "\x1f")


_EVENT_ID_SQL = """
    select md5(concat_ws(chr(30), coalesce(resource, ''), coalesce(scope_name, ''),
                         coalesce(scope_version, ''), coalesce(record, ''))) as event_id
    from identity
"""


def content_ids(connection: duckdb.DuckDBPyConnection, identity: pa.Table) -> pa.Array:
    """md5 ids of `identity` rows (text columns resource, scope_name, scope_version, record)."""
    connection.register("identity", identity)
    try:
        return connection.sql(_EVENT_ID_SQL).to_arrow_table().column("event_id").combine_chunks()
    finally:
        connection.unregister("identity")


def _timestamps_from_nanos(nanos: pa.Array) -> pa.Array:
    as_int = pc.cast(_only_matching(nanos, r"^\d{1,19}$"), pa.int64())
    positive = pc.if_else(pc.greater(as_int, 0), as_int, pa.scalar(None, pa.int64()))
    return pc.cast(pc.divide(positive, 1000), pa.timestamp("us", tz="UTC"))


def resource_attributes(
    connection: duckdb.DuckDBPyConnection, resources: pa.StructArray
) -> tuple[dict[str, pa.Array], pa.Array, pa.Array]:
    """Per resource: typed resource columns, the other attributes as JSON, canonical text."""
    entries, parents = _flatten(resources.field("resource").field("attributes"))
    rows = len(resources)
    typed, leftover, _ = _pivot(entries, parents, rows, RESOURCE_COLUMNS)  # strings only
    return (
        typed,
        leftover_json(connection, entries, parents, leftover, rows),
        canonical_attributes(entries, parents, rows),
    )


def flatten_envelope(
    lines: pa.Table, signal: str, scopes_field: str, items_field: str
) -> tuple[pa.StructArray, np.ndarray, pa.StructArray, np.ndarray, pa.StructArray, np.ndarray]:
    """Unnest `resource<Signal>` -> scopes -> items, keeping each level's parent index.

    Returns:
        (resources, line of each resource, scopes, resource of each scope, items, scope of
        each item).
    """
    resources, line_of_resource = _flatten(lines.column(signal).combine_chunks())
    scopes, resource_of_scope = _flatten(resources.field(scopes_field))
    items, scope_of_item = _flatten(scopes.field(items_field))
    return resources, line_of_resource, scopes, resource_of_scope, items, scope_of_item


def records_to_events(
    lines: pa.Table,
    line_offsets: np.ndarray,
    *,
    fingerprint: str,
    landed_at: datetime,
    connection: duckdb.DuckDBPyConnection,
) -> pa.Table:
    """One typed row per log record (see `EVENTS_SCHEMA`), from parsed OTLP/JSON lines."""
    resources, line_of_resource, scopes, resource_of_scope, records, scope_of_record = (
        flatten_envelope(lines, "resourceLogs", "scopeLogs", "logRecords")
    )
    rows = len(records)
    if rows == 0:
        return EVENTS_SCHEMA.empty_table()
    resource_of_record = resource_of_scope[scope_of_record]

    record_entries, record_parents = _flatten(records.field("attributes"))
    record_columns, record_leftover, rejections = _pivot(
        record_entries,
        record_parents,
        rows,
        (*RECORD_COLUMNS, ("_event_name", "event.name", STRING)),
    )
    event_name_attribute = record_columns.pop("_event_name")
    attributes_json = leftover_json(
        connection, record_entries, record_parents, record_leftover, rows
    )
    resource_level, resource_json, resource_text = resource_attributes(connection, resources)
    take_resource = pa.array(resource_of_record)
    resource_columns = {name: column.take(take_resource) for name, column in resource_level.items()}

    body_text = _scalar_text(records.field("body"))
    event_name = pc.coalesce(
        event_name_attribute,
        pc.replace_substring_regex(body_text, r"^claude_code\.", ""),
        records.field("eventName"),
    )
    iso_timestamp = _only_matching(record_columns["event_timestamp"], _ISO_PATTERN)
    observed_at = _timestamps_from_nanos(records.field("observedTimeUnixNano"))
    event_at = pc.coalesce(
        _timestamps_from_nanos(records.field("timeUnixNano")),
        observed_at,
        pc.cast(iso_timestamp, pa.timestamp("us", tz="UTC")),
    )
    scope = scopes.field("scope")
    scope_name = scope.field("name").take(pa.array(scope_of_record))
    scope_version = scope.field("version").take(pa.array(scope_of_record))

    # Same record delivered twice (in any batch), same id: the id hashes the record's times,
    # body, attributes (in the order sent) and trace ids, with its resource and scope.
    record_text = pc.binary_join_element_wise(
        pc.coalesce(records.field("timeUnixNano"), ""),
        pc.coalesce(records.field("observedTimeUnixNano"), ""),
        pc.coalesce(body_text, ""),
        canonical_attributes(record_entries, record_parents, rows),
        pc.coalesce(records.field("traceId"), ""),
        pc.coalesce(records.field("spanId"), ""),
        "\x1d",
    )
    identity = pa.table(
        {
            "resource": resource_text.take(take_resource),
            "scope_name": scope_name,
            "scope_version": scope_version,
            "record": record_text,
        }
    )
    event_id = content_ids(connection, identity)

    line_of_record = np.asarray(line_of_resource)[resource_of_record]
    # Before privacy: under `strict` the paths, commands and URLs are hashed after this.
    security = classify_tool_calls(connection, record_columns, rows)
    columns = {
        "event_id": event_id,
        "event_name": event_name,
        "event_at": event_at,
        "observed_at": observed_at,
        "event_date": pc.cast(event_at, pa.date32()),
        "body": body_text,
        **record_columns,
        **resource_columns,
        **security,
        "scope_name": scope_name,
        "scope_version": scope_version,
        "trace_id": records.field("traceId"),
        "span_id": records.field("spanId"),
        "attributes_json": attributes_json,
        "resource_json": resource_json.take(take_resource),
        "rejected_values_json": rejected_json(rejections, rows),
        "source_file_fingerprint": pa.array(np.full(rows, fingerprint, dtype=object), pa.string()),
        "source_byte_offset": pa.array(line_offsets[line_of_record]),
        "landed_at": pa.array(np.full(rows, landed_at), pa.timestamp("us", tz="UTC")),
    }
    return pa.table([columns[field.name] for field in EVENTS_SCHEMA], schema=EVENTS_SCHEMA)
