"""What content text may be written where (`COWORK_PRIVACY`).

- `strict`: prompt, response and tool-input text never reaches disk. Lengths are kept;
  paths, commands and URLs inside tool inputs and parameters, and workspace paths, are
  replaced by keyed hashes, so the same path still groups together without being readable.
- `standard` (default): the text lands only in a restricted area (`landing/otel/content/`,
  files readable by the owner only), keyed by `event_id`; the general landing has none.
- `full`: the text lands in place, with everything else.

The mode and its pepper are settings (`configuration.settings`); this module applies them.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pyarrow as pa
import pyarrow.compute as pc

from configuration.settings import PrivacyMode

# Columns holding free text typed or produced in a session.
TEXT_COLUMNS = ("prompt", "response")
# Columns holding JSON whose string values are paths, commands, URLs or patterns.
JSON_DETAIL_COLUMNS = ("tool_input", "tool_parameters")
CONTENT_COLUMNS = (*TEXT_COLUMNS, *JSON_DETAIL_COLUMNS)
HASH_PREFIX = "hmac:"


def keyed_hash(key: bytes, value: str) -> str:
    """A stable, non-reversible stand-in for a path or command."""
    return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def _hash_json_strings(key: bytes, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return keyed_hash(key, text)

    def walk(node: object) -> object:
        if isinstance(node, str):
            return keyed_hash(key, node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {name: walk(value) for name, value in node.items()}
        return node

    return json.dumps(walk(document), separators=(",", ":"))


def _hash_column(column: pa.ChunkedArray, transform) -> pa.Array:
    # Only tool events carry these (a minority of rows), so the Python work is bounded by
    # the non-null values, and each distinct value is hashed once.
    values = column.to_pylist()
    cache: dict[str, str | None] = {}
    out = [
        cache.setdefault(value, transform(value)) if value is not None else None for value in values
    ]
    return pa.array(out, column.type)


def apply_privacy(
    events: pa.Table, mode: PrivacyMode, key: bytes
) -> tuple[pa.Table, pa.Table | None]:
    """Split or scrub content text according to `mode`.

    Returns:
        The events to land in the general area, and (for `standard`) the content rows to
        land in the restricted area, else None.
    """
    if mode is PrivacyMode.FULL:
        return events, None
    present = [name for name in CONTENT_COLUMNS if name in events.column_names]
    if mode is PrivacyMode.STANDARD:
        has_content = None
        for name in present:
            valid = pc.is_valid(events.column(name))
            has_content = valid if has_content is None else pc.or_(has_content, valid)
        content = events.select(["event_id", "event_date", *present])
        if has_content is not None:
            content = content.filter(has_content)
        scrubbed = events
        for name in present:
            index = scrubbed.schema.get_field_index(name)
            scrubbed = scrubbed.set_column(
                index, name, pa.nulls(events.num_rows, events.schema.field(name).type)
            )
        return scrubbed, content
    scrubbed = events
    for name in TEXT_COLUMNS:
        if name in scrubbed.column_names:
            index = scrubbed.schema.get_field_index(name)
            scrubbed = scrubbed.set_column(
                index, name, pa.nulls(events.num_rows, events.schema.field(name).type)
            )
    for name in JSON_DETAIL_COLUMNS:
        if name in scrubbed.column_names:
            index = scrubbed.schema.get_field_index(name)
            hashed = _hash_column(scrubbed.column(name), lambda text: _hash_json_strings(key, text))
            scrubbed = scrubbed.set_column(index, name, hashed)
    if "workspace_host_paths" in scrubbed.column_names:
        index = scrubbed.schema.get_field_index("workspace_host_paths")
        paths = scrubbed.column("workspace_host_paths").combine_chunks()
        flat = paths.values.to_pylist()
        cache: dict[str, str] = {}
        hashed = pa.array(
            [cache.setdefault(p, keyed_hash(key, p)) if p is not None else None for p in flat],
            pa.string(),
        )
        rebuilt = pa.ListArray.from_arrays(paths.offsets, hashed, mask=pc.is_null(paths))
        scrubbed = scrubbed.set_column(index, "workspace_host_paths", rebuilt)
    return scrubbed, None
