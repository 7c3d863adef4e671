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

Under privacy `strict`, identifier columns are replaced by keyed pseudonyms on the way (see
`governance.pseudonyms`), and a table whose new rows still hold an e-mail address stops the
publish. Each published table's comment records the privacy mode (and the pepper's
fingerprint) it was written under; a table written under another one is copied whole, so a
serving file never mixes real identifiers with pseudonyms, or two peppers.

`publish_build` is the one way the CLI, Dagster and erasure publish: under the warehouse
lock, only a build recorded as passed, then the Parquet export of what was served and the
security signals as ECS JSON lines (`warehouse.security_export`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from configuration.settings import PrivacyMode, Settings
from governance.pseudonyms import (
    columns_with_emails,
    create_pseudonym_table,
    identifier_columns_from_manifest,
    pepper_fingerprint,
    pseudonymised_select,
    table_reference,
)
from ingestion.parquet import fsync_directory
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier
from warehouse.build_state import require_publishable, warehouse_lock
from warehouse.export import export_parquet
from warehouse.security_export import SecurityExport, export_security_signals

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
    privacy: PrivacyMode = PrivacyMode.STANDARD
    exported: dict[str, int] = field(default_factory=dict)  # mart -> Parquet files written
    security: SecurityExport = field(default_factory=SecurityExport)  # ECS day files


class PrivacyLeakError(RuntimeError):
    """Under `strict`, a table about to be published still holds e-mail addresses."""


@dataclass(frozen=True)
class ServingPrivacy:
    """What the serving database may show of people (`COWORK_PRIVACY`)."""

    mode: PrivacyMode = PrivacyMode.STANDARD
    pepper: bytes | None = None
    identifiers: dict[str, list[str]] = field(default_factory=dict)  # "schema.table" -> columns

    @classmethod
    def from_settings(cls, settings: Settings, manifest: Path) -> ServingPrivacy:
        """The settings' mode and pepper, identifier columns from the manifest."""
        return cls(settings.privacy, settings.pepper, identifier_columns_from_manifest(manifest))

    @property
    def pseudonymises(self) -> bool:
        """Whether identifiers are replaced by pseudonyms."""
        return self.mode is PrivacyMode.STRICT

    @property
    def marker(self) -> str:
        """The comment of every published table: the mode (and pepper) it was written under."""
        if self.pseudonymises:
            if not self.pepper:
                raise ValueError("privacy strict needs a pepper to publish")
            return f"cowork-analytics privacy strict (pepper {pepper_fingerprint(self.pepper)})"
        return f"cowork-analytics privacy {self.mode.value}"

    def columns(self, table: str) -> list[str]:
        """The columns of `schema.table` to pseudonymise (none unless `strict`)."""
        return self.identifiers.get(table, []) if self.pseudonymises else []


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


def _comment(connection: duckdb.DuckDBPyConnection, database: str, schema: str, table: str):
    return connection.execute(
        "select comment from duckdb_tables()"
        " where database_name = ? and schema_name = ? and table_name = ?",
        [database, schema, table],
    ).fetchone()[0]


def _refuse_emails(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    table: str,
    columns: list[tuple[str, str]],
    privacy: ServingPrivacy,
) -> None:
    """Under `strict`, stop when the rows in `relation` still hold an e-mail address."""
    if not privacy.pseudonymises:
        return
    replaced = set(privacy.columns(table))
    text = [name for name, kind in columns if kind == "VARCHAR" and name not in replaced]
    leaking = columns_with_emails(connection, relation, text)
    if leaking:
        raise PrivacyLeakError(
            f"privacy strict: {table} column(s) {', '.join(leaking)} hold e-mail addresses;"
            " declare them `meta: {pii: identifier}` in the model's YAML. Nothing was published."
        )


def _apply_rebuilt_rows(
    connection: duckdb.DuckDBPyConnection,
    target: str,
    key: list[str],
    source: str,
    check: Callable[[str], None],
) -> None:
    """Replace the rows of `target` whose keys dbt rebuilt since the last publish."""
    key_columns = ", ".join(quote_identifier(column) for column in key)
    connection.execute(
        f"create temporary table rebuilt as {source}"
        f" where source.rebuilt_at > (select coalesce(max(rebuilt_at), '-infinity'::timestamptz)"
        f" from {target})"
    )
    check("rebuilt")
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
    privacy: ServingPrivacy,
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
        marker = privacy.marker
        if privacy.pseudonymises:
            built = {
                f"{schema}.{name}"
                for schema, name in connection.execute(
                    "select schema_name, table_name from duckdb_tables()"
                    " where database_name = 'build'"
                ).fetchall()
                if schema in schemas
            }
            create_pseudonym_table(
                connection,
                privacy.pepper,
                {table: privacy.columns(table) for table in built if privacy.columns(table)},
                "build",
            )
        for schema in schemas:
            connection.execute(f"create schema if not exists {quote_identifier(schema)}")
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
                connection.execute(f"drop table {table_reference(f'{schema}.{stale}')}")
            for name in names:
                table = f"{schema}.{name}"
                target = f"{quote_identifier(schema)}.{quote_identifier(name)}"
                built_columns = _columns(connection, "build", schema, name)
                key = unique_keys.get(table)
                source = pseudonymised_select(f"build.{target}", privacy.columns(table))

                def check(relation: str, table=table, columns=built_columns) -> None:
                    _refuse_emails(connection, relation, table, columns, privacy)

                if (
                    name in existing
                    and key
                    and ("rebuilt_at", "TIMESTAMP WITH TIME ZONE") in built_columns
                    and _columns(connection, database, schema, name) == built_columns
                    and _comment(connection, database, schema, name) == marker
                ):
                    _apply_rebuilt_rows(connection, target, key, source, check)
                    incremental.append(table)
                else:
                    connection.execute(f"drop table if exists {target}")
                    connection.execute(f"create table {target} as {source}")
                    check(target)
                connection.execute(f"comment on table {target} is '{marker}'")
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
    privacy: ServingPrivacy | None = None,
) -> PublishResult:
    """Publish `schemas` from the build database to the serving database, atomically.

    Args:
        build_database: the database dbt built.
        serving_database: the file BI tools read; replaced by a rename.
        schemas: the schemas to publish.
        unique_keys: `schema.table` -> unique key of incremental marts (see
            `unique_keys_from_manifest`); without one a table is copied whole.
        privacy: the privacy mode, pepper and identifier columns (default `standard`).

    Raises:
        FileNotFoundError: the build database does not exist (dbt has not run).
        PrivacyLeakError: under `strict`, a table would publish e-mail addresses.
    """
    privacy = privacy or ServingPrivacy()
    if not build_database.exists():
        raise FileNotFoundError(
            f"build database {build_database} does not exist; run the dbt build first"
        )
    serving_database.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving_database.with_name(f".{serving_database.name}.tmp-{os.getpid()}")
    try:
        result = None
        if serving_database.exists() and unique_keys:
            result = _write(
                temporary, build_database, schemas, unique_keys, serving_database, privacy
            )
        if result is None:
            result = _write(temporary, build_database, schemas, {}, None, privacy)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, serving_database)
        fsync_directory(serving_database.parent)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(temporary.name + ".wal").unlink(missing_ok=True)
    return PublishResult(serving_database, result.tables, result.incremental_tables, privacy.mode)


def publish_build(
    layout: DataLayout,
    manifest: Path,
    *,
    whole: bool = False,
    settings: Settings | None = None,
    on_wait: Callable[[], None] | None = None,
    lock_held: bool = False,
) -> PublishResult:
    """Publish the latest passed build: the serving database, its Parquet and security exports.

    Args:
        layout: the data directory.
        manifest: dbt's manifest of the build (unique keys and identifier columns).
        whole: copy every table and rewrite the Parquet export from scratch, so nothing
            of the previous version survives (an erasure). The security day files need no
            such mode: a day whose content changed is rewritten, one left empty removed.
        settings: the privacy mode and pepper to publish under (default: the product's
            defaults, `standard`).
        on_wait: called once when another build holds the warehouse and this one waits.
        lock_held: the caller already holds `warehouse_lock` (it built just before).

    Raises:
        BuildNotPublishableError: the latest build did not pass (nothing was published).
        PrivacyLeakError: under `strict`, a table would publish e-mail addresses.
    """
    privacy = ServingPrivacy.from_settings(settings or Settings(data_dir=layout.root), manifest)
    with nullcontext() if lock_held else warehouse_lock(layout, on_wait=on_wait):
        # Another run may have built since this one's dbt step: publish only a build that
        # passed, never one that failed or is half done.
        require_publishable(layout)
        result = publish_serving(
            layout.build_database,
            layout.serving_database,
            # No unique keys: every table is copied whole.
            unique_keys={} if whole else unique_keys_from_manifest(manifest),
            privacy=privacy,
        )
        exported = export_parquet(layout.serving_database, layout.serving_parquet, fresh=whole)
        security = export_security_signals(layout.serving_database, layout.serving_security)
    return replace(result, exported=exported, security=security)
