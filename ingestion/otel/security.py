"""Classify tool calls for the security marts at landing, before privacy hashes anything.

Under `COWORK_PRIVACY=strict` paths, commands and URLs are replaced by keyed hashes, so
nothing downstream can recognise `~/.ssh/id_rsa` or an AWS key any more. The landing reads
them once, here, and keeps only what they are (`ingestion.otel.schema.SECURITY_COLUMNS`):

- `target_class`: `sensitive`, `system`, `workspace`, `outside_workspace`, `unknown` (an
  absolute path with no workspace to compare it with) or `none` (an input with no path and
  nothing sensitive in its command); null when the event carried no tool input at all;
- `sensitive_kind`: which sensitive location (`ssh_key`, `env_file`, ...);
- `secret_kinds`: the kinds of secrets seen in the tool input or parameters, comma-separated
  in a fixed order (`aws_access_key_id,password_in_url`); never the secret;
- `egress_domain`: the registrable domain (public suffix list) of the first URL in the input;
- `mcp_server_name`, `mcp_tool_name`: from the parameters, else from `mcp__<server>__<tool>`.

These hold no text the person typed, so every privacy mode keeps them as they are. The
patterns and their sources are in `ingestion.otel.security_patterns`.

The batch is classified column by column over the tool events only: DuckDB reads the JSON,
Arrow runs the RE2 patterns; registrable domains are looked up once per distinct host.
"""

from __future__ import annotations

import functools
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from publicsuffixlist import PublicSuffixList

from ingestion.otel.schema import SECURITY_COLUMNS
from ingestion.otel.security_patterns import SECRETS, SENSITIVE_PATHS, SYSTEM_PATH, Pattern

SECURITY_COLUMN_TYPES = {name: pa.string() for name in SECURITY_COLUMNS}

# The host of the first web URL: scheme, optional userinfo (skipped: it may hold a password),
# then the host up to a port, path, query or a quote of the JSON around it.
_URL_HOST = r"""(?i)\b(?:https?|wss?|ftps?)://(?:[^/\s"'\\@]*@)?(?P<host>[^/\s"'\\:?#\[\]]+)"""
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _json_text(column: str, key: str) -> str:
    # json_extract_string fails on text that is not JSON: a client's bad input lands, with
    # nothing extracted from it, instead of failing the batch.
    return f"case when json_valid({column}) then json_extract_string({column}, '$.\"{key}\"') end"


# DuckDB reads the JSON (it unescapes what a regex on the raw text could not) and compares
# paths with the workspace roots; the patterns run in Arrow, which compiles a regex in a
# fraction of a millisecond where binding them into a DuckDB statement cost ~85 ms a batch.
_EXTRACT_SQL = f"""
    with extracted as (
        select
            row_number,
            tool_name,
            workspace_host_paths,
            coalesce(tool_input, '') || chr(10) || coalesce(tool_parameters, '') as scanned,
            replace(
                coalesce(
                    {_json_text("tool_input", "file_path")},
                    {_json_text("tool_input", "path")},
                    {_json_text("tool_input", "notebook_path")}
                ),
                '\\',
                '/'
            ) as path,
            {_json_text("tool_input", "command")} as command,
            {_json_text("tool_parameters", "mcp_server_name")} as sent_server,
            {_json_text("tool_parameters", "mcp_tool_name")} as sent_tool,
            tool_input is not null or tool_parameters is not null as has_input
        from calls
    )
    select
        scanned,
        path,
        coalesce(path, command) as target,
        has_input,
        not regexp_matches(path, '^(/|~|[A-Za-z]:/)') as is_relative,
        len(list_filter(
            workspace_host_paths,
            lambda root: path = rtrim(root, '/') or starts_with(path, rtrim(root, '/') || '/')
        )) > 0 as in_workspace,
        coalesce(len(workspace_host_paths), 0) = 0 as no_workspace,
        coalesce(
            nullif(sent_server, ''),
            case
                when starts_with(tool_name, 'mcp__') then nullif(split_part(tool_name, '__', 2), '')
            end
        ) as mcp_server_name,
        coalesce(
            nullif(sent_tool, ''),
            case
                when starts_with(tool_name, 'mcp__') and len(string_split(tool_name, '__')) > 2
                    then nullif(array_to_string(string_split(tool_name, '__')[3:], '__'), '')
            end
        ) as mcp_tool_name
    from extracted
    order by row_number
"""

_NULL = pa.scalar(None, pa.string())


def _spread(values: pa.Array, positions: np.ndarray, rows: int) -> pa.Array:
    """`values` (one per position) put back at `positions` among `rows`; null elsewhere."""
    scatter = np.full(rows, -1, dtype=np.int64)
    scatter[positions] = np.arange(len(positions))
    return values.take(pa.array(scatter, mask=scatter < 0))


def _matches(text: pa.Array, pattern: Pattern) -> pa.Array:
    """Per value: the pattern matches (and its `unless` does not); null text: False."""
    found = pc.match_substring_regex(text, pattern.regex)
    if pattern.unless:
        found = pc.and_(found, pc.invert(pc.match_substring_regex(text, pattern.unless)))
    return pc.fill_null(found, False)


def _sensitive_kind(target: pa.Array) -> pa.Array:
    kind = pa.nulls(len(target), pa.string())
    # Reversed, so that the first pattern of the list wins where several match.
    for pattern in reversed(SENSITIVE_PATHS):
        kind = pc.if_else(_matches(target, pattern), pattern.kind, kind)
    return kind


_ANY_SECRET = "|".join(f"({pattern.regex})" for pattern in SECRETS)


def _secret_kinds(scanned: pa.Array) -> pa.Array:
    """Comma-separated kinds found per value (in `SECRETS` order), or null."""
    any_secret = _matches(scanned, Pattern("any", _ANY_SECRET, ""))
    candidates = np.flatnonzero(any_secret.to_numpy(zero_copy_only=False))
    kinds = pa.nulls(len(scanned), pa.string())
    if len(candidates) == 0:
        return kinds
    texts = scanned.take(pa.array(candidates))
    found = [pc.if_else(_matches(texts, pattern), pattern.kind, _NULL) for pattern in SECRETS]
    joined = pc.binary_join_element_wise(*found, ",", null_handling="skip")
    joined = pc.if_else(pc.equal(joined, ""), _NULL, joined)
    return _spread(joined, candidates, len(scanned))


def _target_class(found: pa.Table, sensitive_kind: pa.Array) -> pa.Array:
    path = found.column("path").combine_chunks()
    has_path = pc.is_valid(path)
    classes = [
        (pc.invert(found.column("has_input").combine_chunks()), None),
        (pc.is_valid(sensitive_kind), "sensitive"),
        (pc.invert(has_path), "none"),
        (pc.fill_null(pc.match_substring_regex(path, SYSTEM_PATH), False), "system"),
        (found.column("is_relative").combine_chunks(), "workspace"),
        (found.column("in_workspace").combine_chunks(), "workspace"),
        (found.column("no_workspace").combine_chunks(), "unknown"),
    ]
    result = pa.repeat(pa.scalar("outside_workspace", pa.string()), len(path))
    for condition, name in reversed(classes):
        value = pa.scalar(name, pa.string())
        result = pc.if_else(pc.fill_null(condition, False), value, result)
    return result


@functools.cache
def _suffix_list() -> PublicSuffixList:
    # The list the package ships, read once: the landing never fetches it.
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The registrable domain of a host (`docs.python.org` -> `python.org`).

    An IP address, or a name the public suffix list cannot place (`localhost`, an intranet
    name, a bare suffix), stays as it is: egress to it is still egress.
    """
    if _IPV4.match(host):
        return host
    return _suffix_list().privatesuffix(host) or host


def _domains(hosts: pa.Array) -> pa.Array:
    distinct = pc.unique(hosts).drop_null()
    domains = pa.array([registrable_domain(host) for host in distinct.to_pylist()], pa.string())
    return pc.take(domains, pc.index_in(hosts, value_set=distinct))


def classify_tool_calls(
    connection: duckdb.DuckDBPyConnection, columns: dict[str, pa.Array], rows: int
) -> dict[str, pa.Array]:
    """The security classification of each event (see the module docstring).

    Args:
        connection: The worker's DuckDB connection.
        columns: The typed record columns, with `tool_name`, `tool_input`, `tool_parameters`
            and `workspace_host_paths`.
        rows: The number of events.

    Returns:
        One array of `rows` values per column of `SECURITY_COLUMN_TYPES`; null for events
        that are not tool calls.
    """
    tool_name = columns["tool_name"]
    involved = pc.or_(
        pc.or_(pc.is_valid(columns["tool_input"]), pc.is_valid(columns["tool_parameters"])),
        pc.fill_null(pc.starts_with(tool_name, "mcp__"), False),
    )
    positions = np.flatnonzero(involved.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return {name: pa.nulls(rows, kind) for name, kind in SECURITY_COLUMN_TYPES.items()}
    take = pa.array(positions)
    calls = pa.table(
        {
            "row_number": pa.array(np.arange(len(positions), dtype=np.int64)),
            **{
                name: columns[name].take(take)
                for name in ("tool_name", "tool_input", "tool_parameters", "workspace_host_paths")
            },
        }
    )
    connection.register("calls", calls)
    try:
        found = connection.sql(_EXTRACT_SQL).to_arrow_table()
    finally:
        connection.unregister("calls")
    sensitive_kind = _sensitive_kind(found.column("target").combine_chunks())
    scanned = found.column("scanned").combine_chunks()
    hosts = pc.utf8_rtrim(
        pc.utf8_lower(pc.struct_field(pc.extract_regex(scanned, _URL_HOST), [0])), "."
    )
    classified = {
        "target_class": _target_class(found, sensitive_kind),
        "sensitive_kind": sensitive_kind,
        "secret_kinds": _secret_kinds(scanned),
        "egress_domain": _domains(pc.if_else(pc.equal(hosts, ""), _NULL, hosts)),
        "mcp_server_name": found.column("mcp_server_name").combine_chunks(),
        "mcp_tool_name": found.column("mcp_tool_name").combine_chunks(),
    }
    return {
        name: _spread(classified[name], positions, rows).cast(kind)
        for name, kind in SECURITY_COLUMN_TYPES.items()
    }
