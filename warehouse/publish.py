"""Publish the built marts to the serving database that BI tools read, atomically.

dbt builds into a separate build database. Publishing copies the published schemas into a
new DuckDB file beside the serving one and renames it over it: a reader holding the old
file open keeps reading the old version, a new reader gets the new one, and nobody ever
sees a half-built warehouse. A crash before the rename leaves the serving file untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.parquet import fsync_directory

PUBLISHED_SCHEMAS = ("marts",)


@dataclass(frozen=True)
class PublishResult:
    """What was published where."""

    path: Path
    tables: dict[str, int]  # "schema.table" -> rows


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_serving(
    build_database: Path, serving_database: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> PublishResult:
    """Copy `schemas` from the build database into a fresh serving database, atomically.

    Raises:
        FileNotFoundError: the build database does not exist (dbt has not run).
    """
    if not build_database.exists():
        raise FileNotFoundError(
            f"build database {build_database} does not exist; run the dbt build first"
        )
    serving_database.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving_database.with_name(f".{serving_database.name}.tmp-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    try:
        with duckdb.connect(str(temporary)) as connection:
            connection.execute("attach ? as build (read_only)", [str(build_database)])
            for schema in schemas:
                connection.execute(f"create schema {_quote(schema)}")
                names = connection.execute(
                    "select table_name from duckdb_tables()"
                    " where database_name = 'build' and schema_name = ? order by table_name",
                    [schema],
                ).fetchall()
                for (name,) in names:
                    target = f"{_quote(schema)}.{_quote(name)}"
                    connection.execute(f"create table {target} as select * from build.{target}")
                    tables[f"{schema}.{name}"] = connection.execute(
                        f"select count(*) from {target}"
                    ).fetchone()[0]
            connection.execute("detach build")
            connection.execute("checkpoint")
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, serving_database)
        fsync_directory(serving_database.parent)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(temporary.name + ".wal").unlink(missing_ok=True)
    return PublishResult(serving_database, tables)
