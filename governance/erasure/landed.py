"""Rewriting the landed files without one person.

Every landed Parquet file holding a row of the person is rewritten without it, and any
other row mentioning one of the person's identifiers has the mention replaced by
`[erased]`; each file is written under a temporary name, fsynced and renamed over the old
one, one file at a time, so a crash leaves every file old or new and a rerun finishes the
job. Content rows (owner-only text) go by the `event_id` of the person's events, and are
purged before the events, so a rerun still knows which ones. Quarantined lines (OTel) and
records (Compliance API) mentioning the person are dropped.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from governance.erasure.aliases import (
    COMPLIANCE_OWNER_COLUMNS,
    JSON_COLUMNS,
    OTEL_OWNER_COLUMNS,
    Identity,
    glob_sql,
    in_list,
    owner_predicate,
)
from governance.erasure.audit import ErasureSummary
from ingestion.billing.records import REPORTS as BILLING_REPORTS
from ingestion.crash import crash_point
from ingestion.erasure_register import REDACTED
from ingestion.parquet import fsync_directory, write_parquet_atomically
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier, quote_literal

__all__ = ["REDACTED", "erase_landed", "erase_quarantined_lines"]


def _landed_files(layout: DataLayout) -> dict[str, list[Path]]:
    """Area name -> the landed Parquet files of that area (content first: see the module doc)."""
    areas: dict[str, list[Path]] = {
        "otel_events": sorted(layout.otel_events.glob("*/*.parquet")),
        "otel_metrics": sorted(layout.otel_metrics.glob("*/*.parquet")),
        "otel_quarantine": sorted(layout.otel_quarantine.glob("*.parquet")),
    }
    compliance = layout.root / "landing" / "compliance"
    for entity in sorted(path.name for path in compliance.glob("*") if path.is_dir()):
        areas[f"compliance_{entity}"] = sorted(layout.compliance(entity).glob("*/*.parquet"))
    for report in BILLING_REPORTS:  # the analytics reports name people
        areas[f"billing_{report}"] = sorted(layout.billing(report).glob("*/*.parquet"))
    return areas


def _string_columns(schema: pa.Schema) -> list[str]:
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def _mention_predicate(columns: list[str], mentions: list[str]) -> str:
    terms = [
        f"contains(lower({quote_identifier(column)}), {quote_literal(value)})"
        for column in columns
        for value in mentions
    ]
    return f"coalesce(({' or '.join(terms)}), false)" if terms else "false"


def _redacted(column: str, mentions: list[str]) -> str:
    expression = quote_identifier(column)
    for value in mentions:
        pattern = "(?i)" + re.escape(value)
        expression = f"regexp_replace({expression}, {quote_literal(pattern)}, '{REDACTED}', 'g')"
    return f"{expression} as {quote_identifier(column)}"


def _rewrite_file(
    connection, path: Path, owner: str, mentions: list[str]
) -> tuple[int, int, set[str]]:
    """Rewrite `path` without the person's rows and with mentions redacted.

    Returns:
        (rows removed, rows redacted, event_ids of the removed rows).
    """
    table = pq.ParquetFile(path).read()
    columns = _string_columns(table.schema)
    connection.register("landed", table)
    try:
        mention = _mention_predicate(columns, mentions)
        removed, redacted = connection.execute(
            f"select count(*) filter (where {owner}),"
            f" count(*) filter (where not ({owner}) and ({mention})) from landed"
        ).fetchall()[0]
        if not removed and not redacted:
            return 0, 0, set()
        event_ids: set[str] = set()
        if removed and "event_id" in table.schema.names:
            event_ids = {
                event_id
                for (event_id,) in connection.execute(
                    f"select event_id from landed where {owner}"
                ).fetchall()
                if event_id
            }
        replaced = ", ".join(_redacted(column, mentions) for column in columns)
        kept = connection.sql(
            f"select * {f'replace ({replaced})' if replaced and mentions else ''}"
            f" from landed where not ({owner})"
        ).to_arrow_table()
    finally:
        connection.unregister("landed")
    mode = path.stat().st_mode & 0o777
    if kept.num_rows == 0:
        path.unlink()
        fsync_directory(path.parent)
    else:
        write_parquet_atomically(kept.cast(table.schema), path, mode=mode)
    crash_point("erasure_after_file")
    return removed, redacted, event_ids


def _area_owner(area: str, identity: Identity, schema: pa.Schema, event_ids: set[str]) -> str:
    present = set(schema.names)
    if area == "otel_content":
        return f"event_id in {in_list(event_ids)}" if event_ids else "false"
    if area.startswith("otel_"):
        return owner_predicate(OTEL_OWNER_COLUMNS, identity, present, JSON_COLUMNS)
    if area.startswith("billing_"):
        # Claude Code Analytics names people by e-mail, Enterprise Analytics by e-mail and
        # account id (`user_id`); the cost reports name no one.
        return owner_predicate({"email": "emails", "user_id": "account_ids"}, identity, present)
    columns = dict(COMPLIANCE_OWNER_COLUMNS)
    if area == "compliance_users":
        columns["id"] = "account_ids"
    return owner_predicate(columns, identity, present, JSON_COLUMNS)


def _erased_event_ids(connection, files: list[Path], identity: Identity) -> set[str]:
    """The event ids of the person's landed events (to purge their content first)."""
    if not files:
        return set()
    present = set(pq.read_schema(files[0]).names)
    owner = owner_predicate(OTEL_OWNER_COLUMNS, identity, present, JSON_COLUMNS)
    return {
        event_id
        for (event_id,) in connection.execute(
            f"select distinct event_id from read_parquet({glob_sql(files)},"
            f" union_by_name = true, hive_partitioning = false) where {owner}"
        ).fetchall()
        if event_id
    }


def erase_landed(layout: DataLayout, identity: Identity, summary: ErasureSummary) -> None:
    """Rewrite every landed Parquet file holding a row or a mention of the person."""
    mentions = identity.mentions()
    areas = _landed_files(layout)
    with duckdb.connect() as connection:
        event_ids = _erased_event_ids(
            connection, areas["otel_events"] + areas["otel_quarantine"], identity
        )
        # Content first: while the events still exist, a rerun can find these ids again.
        ordered = [("otel_content", sorted(layout.otel_content.glob("*/*.parquet")))]
        ordered += list(areas.items())
        for area, files in ordered:
            for path in files:
                schema = pq.read_schema(path)
                owner = _area_owner(area, identity, schema, event_ids)
                removed, redacted, _ = _rewrite_file(connection, path, owner, mentions)
                if removed or redacted:
                    if path.exists():
                        summary.files_rewritten += 1
                    else:
                        summary.files_deleted += 1
                summary.rows_removed[area] += removed
                summary.rows_redacted[area] += redacted
    summary.rows_removed = Counter({k: v for k, v in summary.rows_removed.items() if v})
    summary.rows_redacted = Counter({k: v for k, v in summary.rows_redacted.items() if v})


def erase_quarantined_lines(
    layout: DataLayout, identity: Identity, summary: ErasureSummary
) -> None:
    """Drop quarantined lines and records that mention the person (a file at a time, atomically)."""
    needles = [value.lower() for value in identity.mentions()]
    if not needles:
        return
    # OTel lines, and API records quarantined per entity and page.
    quarantined = [*layout.otel_quarantine.glob("*.jsonl")]
    quarantined += layout.compliance("quarantine").glob("*/*.jsonl")
    quarantined += layout.billing("quarantine").glob("*/*.jsonl")
    for path in sorted(quarantined):
        lines = path.read_text(errors="replace").splitlines(keepends=True)
        kept = [line for line in lines if not any(n in line.lower() for n in needles)]
        if len(kept) == len(lines):
            continue
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with temporary.open("w") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o600)
        os.replace(temporary, path)
        fsync_directory(path.parent)
        summary.quarantine_lines_removed += len(lines) - len(kept)
        summary.files_rewritten += 1
