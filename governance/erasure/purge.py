"""Purging the build and serving copies of one person.

The build database loses every row naming the person (any text column equal to one of
their identifiers, or containing their e-mail), the `dbt_test__audit` failures and any
damaged copy set aside. The warehouse is then rebuilt (a full refresh when the landed data
still covers every day the build holds, else incrementally, so aggregates of days past raw
retention are kept), copied into a fresh file (freed blocks of the old one may still hold
deleted bytes), and published whole with a Parquet export written from scratch
(`warehouse.publish.publish_build(whole=True)`).
"""

from __future__ import annotations

import os
import shutil

import duckdb

from configuration.settings import Settings
from governance.erasure.aliases import Identity, in_list
from governance.erasure.audit import ErasureSummary
from ingestion.parquet import fsync_directory
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier, quote_literal
from warehouse.build import build_warehouse
from warehouse.publish import publish_build


def erase_build_database(layout: DataLayout, identity: Identity, summary: ErasureSummary) -> None:
    """Delete every row of the build database naming the person; drop test failure rows."""
    shutil.rmtree(layout.build_database.parent / "damaged", ignore_errors=True)
    if not layout.build_database.exists():
        return
    exact = sorted({value.lower() for value in identity.everything()})
    emails = sorted(identity.emails)
    with duckdb.connect(str(layout.build_database)) as connection:
        for (schema,) in connection.execute(
            "select distinct schema_name from duckdb_schemas()"
            " where schema_name like '%dbt_test__audit'"
        ).fetchall():
            connection.execute(f"drop schema {quote_identifier(schema)} cascade")
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
            " and database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            columns = [
                name
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns() where schema_name = ?"
                    " and table_name = ? and data_type = 'VARCHAR'",
                    [schema, table],
                ).fetchall()
            ]
            if not columns or not exact:
                continue
            terms = [f"lower({quote_identifier(c)}) in {in_list(exact)}" for c in columns]
            terms += [
                f"contains(lower({quote_identifier(c)}), {quote_literal(email)})"
                for c in columns
                for email in emails
            ]
            (deleted,) = connection.execute(
                f"delete from {quote_identifier(schema)}.{quote_identifier(table)}"
                f" where {' or '.join(terms)}"
            ).fetchall()[0]
            summary.build_rows_removed += deleted
        connection.execute("checkpoint")


def _landed_history_covers_build(layout: DataLayout) -> bool:
    """Whether the landed OTel partitions still reach back to the oldest day the build holds.

    When retention has dropped older partitions, a full refresh would lose the aggregates of
    those days, so the rebuild must stay incremental.
    """
    if not layout.build_database.exists():
        return True
    landed = [
        path.name.split("=", 1)[1]
        for area in (layout.otel_events, layout.otel_metrics)
        for path in area.glob("*=*")
        if path.is_dir() and any(path.glob("*.parquet"))
    ]
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        oldest_built = None
        for table, column in (
            ("stg_otel__events", "event_date"),
            ("stg_otel__metrics", "point_date"),
        ):
            row = connection.execute(
                "select schema_name from duckdb_tables() where table_name = ?", [table]
            ).fetchall()
            row = row[0] if row else None
            if row:
                (value,) = connection.execute(
                    f"select min({column}) from {quote_identifier(row[0])}.{table}"
                ).fetchall()[0]
                if value is not None and (oldest_built is None or value < oldest_built):
                    oldest_built = value
    if oldest_built is None:
        return True
    return bool(landed) and min(landed) <= oldest_built.isoformat()


def _compact_build_database(layout: DataLayout) -> None:
    """Copy the build database into a fresh file and rename it over the old one.

    Deleted rows and dropped tables leave their bytes in the file's free blocks; a copy
    holds only the live data, so the person's bytes are gone from the disk file too.
    """
    database = layout.build_database
    if not database.exists():
        return
    fresh = database.with_name(f".{database.name}.compact-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    try:
        with duckdb.connect() as connection:
            # Attached under its usual catalog name, so views naming it still bind.
            connection.execute(
                f"attach {quote_literal(str(database))} as {quote_identifier(database.stem)}"
            )
            connection.execute(f"attach {quote_literal(str(fresh))} as erasure_compacted")
            connection.execute(
                f"copy from database {quote_identifier(database.stem)} to erasure_compacted"
            )
            connection.execute("detach erasure_compacted")
            connection.execute(f"detach {quote_identifier(database.stem)}")
        with fresh.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(fresh, database)
        database.with_name(database.name + ".wal").unlink(missing_ok=True)
        fsync_directory(database.parent)
    finally:
        fresh.unlink(missing_ok=True)
        fresh.with_name(fresh.name + ".wal").unlink(missing_ok=True)


def rebuild_and_publish(layout: DataLayout, summary: ErasureSummary, settings: Settings) -> None:
    """Rebuild, publish every table whole and rewrite the Parquet export from scratch.

    `settings` gives the privacy mode and pepper to publish under.
    """
    summary.full_refresh = _landed_history_covers_build(layout)
    # This erasure holds the warehouse lock already; it publishes every table whole below.
    result = build_warehouse(
        layout, full_refresh=summary.full_refresh, publish=False, lock_held=True
    )
    summary.build_success = result.success
    summary.build_failures = list(result.failures) + ([result.error] if result.error else [])
    if not result.success:
        return
    _compact_build_database(layout)
    publish_build(
        layout,
        layout.dbt_target / "manifest.json",
        whole=True,
        settings=settings,
        lock_held=True,
    )
