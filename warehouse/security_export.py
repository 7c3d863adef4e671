"""The security signals as ECS JSON lines under `serving/security/`, for a SIEM to ship.

`marts.fct_security_signals` is read from the serving database, so the export shows people
exactly as the serving side does: under privacy `strict`, user keys, e-mails, names and
targets are the pseudonyms and keyed hashes `warehouse.publish` wrote, never the build's
values. Each signal becomes one JSON object named in the Elastic Common Schema (ECS; see
`docs/security-export.md` for the mapping and ADR 0010 for why ECS), one object a line, in
one file per activity day: `security-signals-YYYY-MM-DD.jsonl`.

Every publish renders every day, but writes a day's file only when its bytes differ from
the file on disk (via a temporary file, fsync and rename), and deletes the file of a day
that has no signal left (an erasure, a corrected mart). An unchanged day keeps its inode
and modification time, so a file-tailing forwarder (Filebeat, Splunk's `monitor`) does not
ship it again; a rewritten day is shipped again, and the SIEM keeps one document per signal
because `event.id` (the stable `signal_id`) is its document id. The bytes are deterministic
(keys sorted, no nulls, lines ordered by time and id), so only a real change rewrites a day.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import duckdb

from ingestion.parquet import fsync_directory, write_lines_atomically

ECS_VERSION = "8.11.0"
FILE_PREFIX = "security-signals-"
FILE_SUFFIX = ".jsonl"
# Owner read-write, group read: a forwarder in the pipeline user's group can read the files,
# nobody else can (they hold targets and, outside `strict`, names and e-mails).
FILE_MODE = 0o640
# Elastic's risk-score bands (low < 22 <= medium < 48 <= high < 74 <= critical): each word
# sits at the top of its band, the numbers Elastic's own rules use for these severities, so
# its "External Alerts" rule turns a signal into an alert of the same severity.
SEVERITY_SCORES = {"low": 21, "medium": 47, "high": 73}
# Line breaks to Unicode (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR) that JSON leaves as they are.
UNICODE_LINE_BREAKS = ("\u0085", "\u2028", "\u2029")


@dataclass(frozen=True)
class SignalMapping:
    """How one signal type is categorised in ECS."""

    category: tuple[str, ...]  # event.category
    type: tuple[str, ...]  # event.type
    description: str  # rule.description


# Every signal type of the mart. A type not listed here gets DEFAULT_MAPPING, so a new signal
# in the mart is exported (and searchable by event.code) before anyone maps it.
SIGNAL_MAPPINGS: dict[str, SignalMapping] = {
    "sensitive_path_access": SignalMapping(
        ("file",),
        ("access",),
        "A tool touched a sensitive location: SSH or private keys, .env files, cloud or tool"
        " credentials, key stores, shell history or browser profiles.",
    ),
    "secret_in_command": SignalMapping(
        ("intrusion_detection",),
        ("info",),
        "A tool input held a credential (token, key or password); the message names its kinds,"
        " never the secret.",
    ),
    "new_tool": SignalMapping(
        ("intrusion_detection",),
        ("info",),
        "First use of a tool in the organisation, after the baseline days.",
    ),
    "new_mcp_server": SignalMapping(
        ("intrusion_detection",),
        ("info",),
        "First use of an MCP server (connector) in the organisation, after the baseline days.",
    ),
    "new_mcp_server_for_person": SignalMapping(
        ("intrusion_detection",),
        ("info",),
        "First use of an MCP server (connector) by this person.",
    ),
    "new_egress_domain": SignalMapping(
        ("network",),
        ("connection",),
        "First request to this registrable domain in the organisation.",
    ),
    "rejected_then_retried": SignalMapping(
        ("intrusion_detection",),
        ("allowed",),
        "A tool call rejected by a person or policy was run with the same tool and target in"
        " the same prompt.",
    ),
    "rejected_decisions_burst": SignalMapping(
        ("intrusion_detection",),
        ("denied",),
        "Many tool calls of one person were rejected in a short time.",
    ),
    "otlp_settings_changed": SignalMapping(
        ("configuration",),
        ("change",),
        "The organisation's Cowork OpenTelemetry export settings changed.",
    ),
    "telemetry_silent": SignalMapping(
        ("intrusion_detection",),
        ("info",),
        "A person was active in Cowork per the Compliance feed, but their client sent no"
        " telemetry that day although it had before.",
    ),
}
DEFAULT_MAPPING = SignalMapping(
    ("intrusion_detection",),
    ("info",),
    "A security signal of a type this export does not describe yet; see the message.",
)

SIGNALS_QUERY = """
select
    signals.signal_id, signals.signal_type, signals.severity, signals.user_key,
    signals.detected_at, signals.activity_date, signals.tool_name, signals.target,
    signals.evidence, signals.source_id, {people}
from marts.fct_security_signals as signals
{join}
"""


@dataclass(frozen=True)
class SecurityExport:
    """What one export did to the day files."""

    written: int = 0  # days whose file was (re)written
    unchanged: int = 0  # days whose file already held these bytes (left untouched)
    removed: int = 0  # days whose file was deleted: no signal left

    def as_dict(self) -> dict[str, int]:
        """The counts by name, for asset metadata."""
        return asdict(self)

    def describe(self) -> str:
        """The counts in words, for logs and the CLI."""
        return (
            f"{self.written} day file(s) written, {self.unchanged} unchanged,"
            f" {self.removed} removed"
        )


def day_file(directory: Path, day: date) -> Path:
    """The file of one activity day."""
    return directory / f"{FILE_PREFIX}{day.isoformat()}{FILE_SUFFIX}"


def _without_nulls(value: object) -> object:
    """`value` with null fields and the objects left empty by them dropped, recursively."""
    if not isinstance(value, dict):
        return value
    kept = {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return {key: item for key, item in kept.items() if item != {}}


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one (a `timestamp` column, as Spark builds) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _timestamp(detected_at: datetime | None, day: date) -> str:
    """ECS `@timestamp`: UTC ISO-8601 with microseconds and `Z` (the day's midnight if unknown)."""
    moment = detected_at or datetime.combine(day, time(), tzinfo=UTC)
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ecs_document(signal: dict[str, object]) -> dict[str, object]:
    """One signal (a mart row with the person's `user_email` and `full_name`) as an ECS object.

    `activity_date` must be set (see `_read_signals`). Null fields are left out.
    """
    signal_type = str(signal["signal_type"])
    severity = signal["severity"]
    mapping = SIGNAL_MAPPINGS.get(signal_type, DEFAULT_MAPPING)
    day: date = signal["activity_date"]
    document = {
        "@timestamp": _timestamp(signal["detected_at"], day),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "module": "cowork_analytics",
            "dataset": "cowork_analytics.security_signals",
            "id": signal["signal_id"],
            "code": signal_type,
            "category": list(mapping.category),
            "type": list(mapping.type),
            "severity": SEVERITY_SCORES.get(severity),
            "risk_score": SEVERITY_SCORES.get(severity),
        },
        "labels": {"severity": severity},
        "rule": {
            "id": signal_type,
            "name": signal_type,
            "ruleset": "cowork-analytics",
            "description": mapping.description,
        },
        "message": signal["evidence"],
        "user": {
            "id": signal["user_key"],
            "email": signal["user_email"],
            "full_name": signal["full_name"],
        },
        "cowork_analytics": {
            "tool_name": signal["tool_name"],
            "target": signal["target"],
            "source_id": signal["source_id"],
            "activity_date": day.isoformat(),
        },
    }
    if signal_type == "new_egress_domain":
        # The mart's target of this signal is the registrable domain itself.
        document["destination"] = {"registered_domain": signal["target"]}
    return _without_nulls(document)


def _has_table(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        connection.execute(
            "select count(*) from duckdb_tables() where schema_name = 'marts' and table_name = ?",
            [table],
        ).fetchone()[0]
    )


def _read_signals(serving_database: Path) -> list[dict[str, object]] | None:
    """The mart's rows with each person's e-mail and name; None without the mart."""
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        if not _has_table(connection, "fct_security_signals"):
            return None
        if _has_table(connection, "dim_users"):
            people = "users.user_email, users.full_name"
            join = "left join marts.dim_users as users on signals.user_key = users.user_key"
        else:
            people = "cast(null as varchar) as user_email, cast(null as varchar) as full_name"
            join = ""
        cursor = connection.execute(SIGNALS_QUERY.format(people=people, join=join))
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        # A signal without its day is filed under the UTC day of its time; one with neither
        # cannot be placed in a day file and is left out.
        if row["activity_date"] is None and row["detected_at"] is not None:
            row["activity_date"] = _utc(row["detected_at"]).date()
    return [row for row in rows if row["activity_date"] is not None]


def json_line(document: dict[str, object]) -> str:
    """`document` as one line of compact JSON with sorted keys, non-ASCII text as UTF-8.

    JSON escapes control characters but not the Unicode line separators; they are escaped
    too, so a reader that splits on every kind of line break still sees one object a line.
    """
    line = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for separator in UNICODE_LINE_BREAKS:
        line = line.replace(separator, f"\\u{ord(separator):04x}")
    return line


def render_days(signals: list[dict[str, object]]) -> dict[date, list[str]]:
    """Each day's lines: one JSON object a signal, ordered by `@timestamp`, then `event.id`."""
    keyed: dict[date, list[tuple[str, str, str]]] = {}
    for signal in signals:
        document = ecs_document(signal)
        sort_key = (document["@timestamp"], str(signal["signal_id"]), json_line(document))
        keyed.setdefault(signal["activity_date"], []).append(sort_key)
    return {day: [line for *_, line in sorted(rows)] for day, rows in keyed.items()}


def file_bytes(lines: list[str]) -> bytes:
    """A day file's bytes: UTF-8, each line ended by a newline (as `write_lines_atomically`)."""
    return "".join(line + "\n" for line in lines).encode()


def _existing_days(directory: Path) -> dict[date, Path]:
    """The day files already in `directory`, by day (other files are not this export's)."""
    days = {}
    for path in directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"):
        try:
            day = date.fromisoformat(path.name[len(FILE_PREFIX) : -len(FILE_SUFFIX)])
        except ValueError:
            continue
        if path == day_file(directory, day):  # not another spelling of a date (`20260303`)
            days[day] = path
    return days


def export_security_signals(serving_database: Path, directory: Path) -> SecurityExport:
    """Write the day files of `marts.fct_security_signals` under `directory` that changed.

    Args:
        serving_database: the published marts (identifiers as the privacy mode shows them).
        directory: where the day files live (`DataLayout.serving_security`).

    Returns:
        Days written, left unchanged and removed. Nothing happens when the serving database
        has no `fct_security_signals` (published by an older release).
    """
    signals = _read_signals(serving_database)
    if signals is None:
        return SecurityExport()
    rendered = render_days(signals)
    directory.mkdir(parents=True, exist_ok=True)
    existing = _existing_days(directory)
    written = unchanged = removed = 0
    for day, lines in sorted(rendered.items()):
        path = day_file(directory, day)
        if day in existing and path.read_bytes() == file_bytes(lines):
            unchanged += 1  # untouched: same inode and mtime, so no forwarder re-ships it
            continue
        write_lines_atomically(path, lines, mode=FILE_MODE)
        written += 1
    for day, path in existing.items():
        if day not in rendered:
            path.unlink()
            removed += 1
    # A crash between writing a temporary file and renaming it leaves one behind; it may hold
    # a person erased since, so it goes too (a forwarder's `*.jsonl` pattern never reads it).
    for leftover in directory.glob(f".{FILE_PREFIX}*{FILE_SUFFIX}.tmp-*"):
        leftover.unlink(missing_ok=True)
    fsync_directory(directory)
    return SecurityExport(written, unchanged, removed)
