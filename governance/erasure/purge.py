"""Purging the build and serving copies of one person.

The build database loses every row naming the person (any text column equal to one of
their identifiers, or containing their e-mail), every row of one of their events in tables
that name nobody (content text, event gaps: by `event_id`), the `dbt_test__audit` failures
and any damaged copy set aside. The warehouse is then rebuilt (a full refresh when the
landed data still covers every day the build holds, else incrementally, so aggregates of
days past raw retention are kept), copied into a fresh file (freed blocks of the old one
may still hold deleted bytes), and published whole with a Parquet export written from
scratch (`warehouse.publish.publish_build(whole=True)`).

An incremental rebuild recomputes only the days it is told changed, so the days of the
person's events are cleared from every day-grained model built from other models (the
aggregates that name nobody: a team's or the organisation's day) and written to
`erasure.rebuild_days`, which the incremental models' scope adds to their changed days
(`dbt_project/macros/incremental_scope.sql`): those days are rebuilt from the staged events
that remain, without the person's share. The table is dropped once a rebuild has passed.
Models computed from the landing itself (`int_otel__deliveries`: copies landed per day)
cannot be recomputed for days past raw retention; they keep those days as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date

import duckdb

from configuration.settings import Settings
from governance.erasure.aliases import Identity, in_list
from governance.erasure.audit import ErasureSummary
from ingestion.parquet import fsync_directory
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier, quote_literal
from warehouse.build import build_warehouse
from warehouse.publish import publish_build

# Where an erasure leaves the days an incremental rebuild must recompute.
ERASURE_SCHEMA = "erasure"
REBUILD_DAYS = "rebuild_days"
EVENTS_TABLE = "stg_otel__events"


def _columns(connection, schema: str, table: str, data_type: str | None = None) -> list[str]:
    query = "select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
    parameters = [schema, table]
    if data_type:
        query += " and data_type = ?"
        parameters.append(data_type)
    return [name for (name,) in connection.execute(query, parameters).fetchall()]


def _naming_predicate(columns: list[str], exact: list[str], emails: list[str]) -> str | None:
    """SQL: a text column equal to one of the identifiers, or containing one of the e-mails."""
    if not columns or not exact:
        return None
    terms = [f"lower({quote_identifier(c)}) in {in_list(exact)}" for c in columns]
    terms += [
        f"contains(lower({quote_identifier(c)}), {quote_literal(email)})"
        for c in columns
        for email in emails
    ]
    return " or ".join(terms)


def _day_models(layout: DataLayout) -> list[tuple[str, str, str, bool]]:
    """The day-grained incremental models outside staging, from the last build's manifest.

    Returns:
        (schema, table, day column, whether it reads the landing) of each.
    """
    manifest = layout.dbt_target / "manifest.json"
    if not manifest.exists():
        return []
    models = []
    for node in json.loads(manifest.read_text())["nodes"].values():
        config = node.get("config", {})
        key = config.get("unique_key")
        if (
            node.get("resource_type") != "model"
            or config.get("materialized") != "incremental"
            or not isinstance(key, str)
            or not key.endswith("_date")
            or "staging" in node.get("fqn", [])
        ):
            continue
        reads_landing = any(
            dependency.startswith("source.")
            for dependency in node.get("depends_on", {}).get("nodes", [])
        )
        models.append((node["schema"], node.get("alias") or node["name"], key, reads_landing))
    return models


def _oldest_landed_day(layout: DataLayout) -> date | None:
    """The first day the landing covers (a day whose files the erasure emptied included)."""
    days = [
        date.fromisoformat(path.name.split("=", 1)[1])
        for path in layout.otel_events.glob("event_date=*")
        if path.is_dir()
    ]
    return min(days) if days else None


def _clear_erased_days(connection, layout: DataLayout, tables: set[tuple[str, str]]) -> None:
    """Clear the person's event days from the day models, and record them for the rebuild.

    A model of the landing is cleared only on days still landed; every day goes into
    `erasure.rebuild_days` (see the module doc).
    """
    days = [
        day
        for (day,) in connection.execute("select distinct event_date from erased_events").fetchall()
    ]
    if not days:
        return
    oldest_landed = _oldest_landed_day(layout)
    for schema, table, column, reads_landing in _day_models(layout):
        if (schema, table) not in tables:
            continue
        # A model of the landing can recompute only the days still landed.
        cleared = [
            day
            for day in days
            if not reads_landing or (oldest_landed is not None and day >= oldest_landed)
        ]
        if cleared:
            literals = ", ".join(f"date '{day.isoformat()}'" for day in cleared)
            connection.execute(
                f"delete from {quote_identifier(schema)}.{quote_identifier(table)}"
                f" where {quote_identifier(column)} in ({literals})"
            )
    relation = f"{ERASURE_SCHEMA}.{REBUILD_DAYS}"
    connection.execute(f"create schema if not exists {ERASURE_SCHEMA}")
    connection.execute(f"create table if not exists {relation} (event_date date)")
    connection.execute(
        f"insert into {relation} select distinct event_date from erased_events"
        f" where event_date not in (select event_date from {relation})"
    )


def erase_build_database(layout: DataLayout, identity: Identity, summary: ErasureSummary) -> None:
    """Delete every row of the build database naming the person or one of their events.

    Also drops dbt's test failure rows, and clears and records the days an incremental
    rebuild must recompute (`_clear_erased_days`).
    """
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
            f" and schema_name <> '{ERASURE_SCHEMA}'"
        ).fetchall()
        predicates = {
            (schema, table): _naming_predicate(
                _columns(connection, schema, table, "VARCHAR"), exact, emails
            )
            for schema, table in tables
        }
        # The person's staged events, read before anything is deleted: their ids reach the
        # tables that name nobody, their days the aggregates.
        connection.execute(
            "create or replace temporary table erased_events (event_id varchar, event_date date)"
        )
        for (schema, table), predicate in predicates.items():
            if table == EVENTS_TABLE and predicate:
                connection.execute(
                    "insert into erased_events select distinct event_id, event_date"
                    f" from {quote_identifier(schema)}.{table} where {predicate}"
                )
        for (schema, table), predicate in predicates.items():
            name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            if predicate:
                (deleted,) = connection.execute(f"delete from {name} where {predicate}").fetchall()[
                    0
                ]
                summary.build_rows_removed += deleted
            if "event_id" in _columns(connection, schema, table):
                (deleted,) = connection.execute(
                    f"delete from {name} where event_id in (select event_id from erased_events)"
                ).fetchall()[0]
                summary.build_rows_removed += deleted
        _clear_erased_days(connection, layout, set(predicates))
        connection.execute("drop table erased_events")
        connection.execute("checkpoint")


def forget_rebuild_days(layout: DataLayout) -> None:
    """A rebuild has recomputed the erased days: drop their record."""
    if not layout.build_database.exists():
        return
    with duckdb.connect(str(layout.build_database)) as connection:
        connection.execute(f"drop schema if exists {ERASURE_SCHEMA} cascade")
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
        return  # the erased days stay recorded: the next build recomputes them
    forget_rebuild_days(layout)
    _compact_build_database(layout)
    publish_build(
        layout,
        layout.dbt_target / "manifest.json",
        whole=True,
        settings=settings,
        lock_held=True,
    )
