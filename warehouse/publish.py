"""Publish the built marts to the serving database that BI tools read, atomically.

dbt builds into a separate build database. Publishing writes the published schemas into a
new DuckDB file beside the serving one and renames it over it: a reader holding the old
file open keeps reading the old version, a new reader gets the new one, and nobody ever
sees a half-built warehouse. A crash before the rename leaves the serving file untouched.
The file is written in a storage format that DuckDB 1.4 and later read, for BI tools that
embed an older DuckDB.

The new file starts as a copy of the current serving file when there is one. Incremental
marts (those with a `rebuilt_at` column and a known unique key) then only take the rows
dbt rebuilt since the last publish: the serving rows sharing their keys are deleted and
the rebuilt rows inserted, the way dbt's delete+insert changed the build. Every other
table is copied whole. If any table then differs from the build in its row count, the
publish starts over and copies everything.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.parquet import fsync_directory

PUBLISHED_SCHEMAS = ("marts",)
# BI tools embed their own, often older, DuckDB (Superset's extra pins duckdb<2): the
# serving file is written in a storage format DuckDB 1.4 and later can read.
SERVING_STORAGE_VERSION = "v1.4.0"


@dataclass(frozen=True)
class PublishResult:
    """What was published where."""

    path: Path
    tables: dict[str, int]  # "schema.table" -> rows
    incremental_tables: tuple[str, ...] = ()  # tables that took only their rebuilt rows


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def unique_keys_from_manifest(manifest: Path) -> dict[str, list[str]]:
    """`schema.table` -> the unique key of each incremental dbt model, from a manifest."""
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text())["nodes"].values()
    keys = {}
    for node in nodes:
        config = node.get("config", {})
        if node.get("resource_type") != "model" or config.get("materialized") != "incremental":
            continue
        key = config.get("unique_key")
        if key:
            keys[f"{node['schema']}.{node['alias'] or node['name']}"] = (
                [key] if isinstance(key, str) else list(key)
            )
    return keys


def _columns(connection: duckdb.DuckDBPyConnection, database: str, schema: str, table: str):
    return connection.execute(
        "select column_name, data_type from duckdb_columns()"
        " where database_name = ? and schema_name = ? and table_name = ? order by column_index",
        [database, schema, table],
    ).fetchall()


def _apply_rebuilt_rows(connection: duckdb.DuckDBPyConnection, target: str, key: list[str]) -> None:
    """Replace the rows of `target` whose keys dbt rebuilt since the last publish."""
    key_columns = ", ".join(_quote(column) for column in key)
    connection.execute(
        f"create temporary table rebuilt as select * from build.{target}"
        f" where rebuilt_at > (select coalesce(max(rebuilt_at), '-infinity'::timestamptz)"
        f" from {target})"
    )
    connection.execute(
        f"delete from {target} where ({key_columns}) in"
        f" (select distinct {key_columns} from rebuilt)"
    )
    connection.execute(f"insert into {target} select * from rebuilt")
    connection.execute("drop table rebuilt")


def _write(
    temporary: Path,
    build_database: Path,
    schemas: tuple[str, ...],
    unique_keys: dict[str, list[str]],
    start_from: Path | None,
) -> PublishResult | None:
    """Fill `temporary`; None when the incremental result does not match the build."""
    temporary.unlink(missing_ok=True)
    if start_from is not None:
        shutil.copyfile(start_from, temporary)
    tables: dict[str, int] = {}
    incremental: list[str] = []
    with duckdb.connect(
        str(temporary), config={"storage_compatibility_version": SERVING_STORAGE_VERSION}
    ) as connection:
        connection.execute("attach ? as build (read_only)", [str(build_database)])
        database = connection.execute("select current_database()").fetchone()[0]
        for schema in schemas:
            connection.execute(f"create schema if not exists {_quote(schema)}")
            names = [
                name
                for (name,) in connection.execute(
                    "select table_name from duckdb_tables()"
                    " where database_name = 'build' and schema_name = ? order by table_name",
                    [schema],
                ).fetchall()
            ]
            existing = {
                name
                for (name,) in connection.execute(
                    "select table_name from duckdb_tables()"
                    " where database_name = ? and schema_name = ?",
                    [database, schema],
                ).fetchall()
            }
            for stale in existing - set(names):
                connection.execute(f"drop table {_quote(schema)}.{_quote(stale)}")
            for name in names:
                target = f"{_quote(schema)}.{_quote(name)}"
                built_columns = _columns(connection, "build", schema, name)
                key = unique_keys.get(f"{schema}.{name}")
                if (
                    name in existing
                    and key
                    and ("rebuilt_at", "TIMESTAMP WITH TIME ZONE") in built_columns
                    and _columns(connection, database, schema, name) == built_columns
                ):
                    _apply_rebuilt_rows(connection, target, key)
                    incremental.append(f"{schema}.{name}")
                else:
                    connection.execute(f"drop table if exists {target}")
                    connection.execute(f"create table {target} as select * from build.{target}")
                rows, built_rows = connection.execute(
                    f"select (select count(*) from {target}), (select count(*) from build.{target})"
                ).fetchone()
                if rows != built_rows:
                    return None
                tables[f"{schema}.{name}"] = rows
        connection.execute("detach build")
        connection.execute("checkpoint")
    return PublishResult(temporary, tables, tuple(incremental))


def publish_serving(
    build_database: Path,
    serving_database: Path,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
    unique_keys: dict[str, list[str]] | None = None,
) -> PublishResult:
    """Publish `schemas` from the build database to the serving database, atomically.

    Args:
        build_database: the database dbt built.
        serving_database: the file BI tools read; replaced by a rename.
        schemas: the schemas to publish.
        unique_keys: `schema.table` -> unique key of incremental marts (see
            `unique_keys_from_manifest`); without one a table is copied whole.

    Raises:
        FileNotFoundError: the build database does not exist (dbt has not run).
    """
    if not build_database.exists():
        raise FileNotFoundError(
            f"build database {build_database} does not exist; run the dbt build first"
        )
    serving_database.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving_database.with_name(f".{serving_database.name}.tmp-{os.getpid()}")
    try:
        result = None
        if serving_database.exists() and unique_keys:
            result = _write(temporary, build_database, schemas, unique_keys, serving_database)
        if result is None:
            result = _write(temporary, build_database, schemas, {}, None)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, serving_database)
        fsync_directory(serving_database.parent)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(temporary.name + ".wal").unlink(missing_ok=True)
    return PublishResult(serving_database, result.tables, result.incremental_tables)
