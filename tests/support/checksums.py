"""Order-independent content checksums of warehouse tables, for equality tests."""

from __future__ import annotations

from pathlib import Path

import duckdb


def checksums(
    database: Path, schemas: tuple[str, ...] = ("marts", "staging")
) -> dict[str, tuple[int, str]]:
    """Rows and an order-independent content hash of every mart and staged table."""
    sums = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables()"
            " where schema_name in (select unnest(?)) order by all",
            [list(schemas)],
        ).fetchall()
        for schema, table in tables:
            # `rebuilt_at` records when a row was written, which is meant to differ.
            columns = [
                name
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns()"
                    " where schema_name = ? and table_name = ? and column_name != 'rebuilt_at'"
                    " order by column_index",
                    [schema, table],
                ).fetchall()
            ]
            row = (
                "concat_ws('|', "
                + ", ".join(f"coalesce(cast(\"{c}\" as varchar), '∅')" for c in columns)
                + ")"
            )
            rows, digest = connection.execute(
                f"select count(*), md5(coalesce(string_agg(row_text, '\n' order by row_text),"
                f" '')) from (select {row} as row_text from {schema}.{table})"
            ).fetchone()
            sums[f"{schema}.{table}"] = (rows, digest)
    return sums
