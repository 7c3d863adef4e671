"""Compare the marts two engines built from the same landed data (DuckDB and Spark).

The DuckDB build database is the reference. Spark's marts are read from the Parquet files
of its warehouse folder (one folder per table, day partitions as `column=value` folders),
so no Spark session is needed to compare. Each mart is matched row by row on the column its
`unique` test guards (from the dbt manifest): the same row counts, the same keys, and every
other column equal: numbers within a relative tolerance (the engines sum doubles in
different orders), everything else exactly. `rebuilt_at` records when a run wrote a row,
which differs between any two builds, so it is not compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.sql_text import quote_identifier

NOT_COMPARED = frozenset({"rebuilt_at"})
NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "BIGINT", "INTEGER", "HUGEINT")


@dataclass
class MartComparison:
    """How one mart built by Spark differs from the DuckDB build."""

    mart: str
    key: str
    rows: int  # in the DuckDB build
    spark_rows: int
    missing_columns: list[str] = field(default_factory=list)  # in DuckDB, not in Spark
    extra_columns: list[str] = field(default_factory=list)  # in Spark, not in DuckDB
    only_in_duckdb: int = 0  # keys
    only_in_spark: int = 0
    differing: dict[str, int] = field(default_factory=dict)  # column -> rows that differ
    examples: list[str] = field(default_factory=list)  # a few differing values, for the log

    @property
    def equal(self) -> bool:
        """Spark built the same rows as DuckDB (within the numeric tolerance)."""
        return (
            self.rows == self.spark_rows
            and not self.missing_columns
            and not self.extra_columns
            and not self.only_in_duckdb
            and not self.only_in_spark
            and not self.differing
        )


def mart_keys(manifest: Path) -> dict[str, str]:
    """Mart name -> the single column its `unique` test guards, from a dbt manifest."""
    nodes = json.loads(manifest.read_text())["nodes"]
    marts = {
        unique_id: node["name"]
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    keys = {}
    for node in nodes.values():
        metadata = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and metadata.get("name") == "unique":
            mart = marts.get(node.get("attached_node") or "")
            if mart:
                keys[mart] = node["column_name"]
    missing = sorted(set(marts.values()) - set(keys))
    if missing:
        raise ValueError(f"marts without a unique test to match rows on: {missing}")
    return keys


def spark_table_source(warehouse_dir: Path, schema: str, table: str) -> str:
    """A DuckDB expression reading a Spark-built Parquet table (partitioned or not)."""
    folder = warehouse_dir / f"{schema}.db" / table
    if not folder.is_dir():
        raise FileNotFoundError(f"Spark built no table {schema}.{table} under {warehouse_dir}")
    # Spark writes no file for an empty non-partitioned table's empty partitions; an empty
    # table has only `_SUCCESS`, and DuckDB reads it as no rows with no columns.
    partitioned = any(child.is_dir() and "=" in child.name for child in folder.iterdir())
    pattern = folder / ("**/*.parquet" if partitioned else "*.parquet")
    return (
        f"read_parquet('{pattern}', hive_partitioning = {str(partitioned).lower()},"
        " union_by_name = true)"
    )


def compare_marts(
    duckdb_database: Path,
    spark_warehouse: Path,
    manifest: Path,
    *,
    relative_tolerance: float = 1e-9,
) -> list[MartComparison]:
    """Compare every mart of the DuckDB build with the same mart built by Spark."""
    comparisons = []
    with duckdb.connect(str(duckdb_database), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        for mart, key in sorted(mart_keys(manifest).items()):
            comparisons.append(
                _compare_mart(
                    connection,
                    mart,
                    key,
                    spark_table_source(spark_warehouse, "marts", mart),
                    relative_tolerance,
                )
            )
    return comparisons


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    described = connection.execute(f"describe select * from {relation}").fetchall()
    return {name: data_type for name, data_type, *_ in described if name not in NOT_COMPARED}


def _compare_mart(
    connection: duckdb.DuckDBPyConnection,
    mart: str,
    key: str,
    spark_source: str,
    tolerance: float,
) -> MartComparison:
    reference = f"marts.{quote_identifier(mart)}"
    spark_rows = connection.execute(f"select count(*) from {spark_source}").fetchone()[0]
    rows = connection.execute(f"select count(*) from {reference}").fetchone()[0]
    duck_columns = _columns(connection, reference)
    # An empty Spark table may have no files to read a schema from.
    spark_columns = _columns(connection, spark_source) if spark_rows else duck_columns
    comparison = MartComparison(
        mart=mart,
        key=key,
        rows=rows,
        spark_rows=spark_rows,
        missing_columns=sorted(set(duck_columns) - set(spark_columns)),
        extra_columns=sorted(set(spark_columns) - set(duck_columns)),
    )
    if not spark_rows and not rows:
        return comparison
    quoted_key = quote_identifier(key)
    joined = (
        f"from {reference} as duck full join {spark_source} as spark"
        f" on duck.{quoted_key} = spark.{quoted_key}"
    )
    comparison.only_in_duckdb, comparison.only_in_spark = connection.execute(
        f"select count(*) filter (where spark.{quoted_key} is null),"
        f" count(*) filter (where duck.{quoted_key} is null) {joined}"
    ).fetchone()
    shared = [column for column in duck_columns if column in spark_columns and column != key]
    if not shared:
        return comparison
    conditions = [_differs(column, duck_columns[column], tolerance) for column in shared]
    counts = connection.execute(
        "select "
        + ", ".join(f"count(*) filter (where {condition})" for condition in conditions)
        + f" {joined} where duck.{quoted_key} is not null and spark.{quoted_key} is not null"
    ).fetchone()
    for column, condition, count in zip(shared, conditions, counts, strict=True):
        if not count:
            continue
        comparison.differing[column] = count
        quoted = quote_identifier(column)
        for row_key, duck_value, spark_value in connection.execute(
            f"select duck.{quoted_key}, duck.{quoted}, spark.{quoted} {joined}"
            f" where duck.{quoted_key} is not null and spark.{quoted_key} is not null"
            f" and {condition} limit 3"
        ).fetchall():
            comparison.examples.append(f"{column} [{row_key}]: {duck_value!r} vs {spark_value!r}")
    return comparison


def _differs(column: str, data_type: str, tolerance: float) -> str:
    """SQL true when a column's two values differ (nulls equal only to nulls)."""
    quoted = quote_identifier(column)
    duck, spark = f"duck.{quoted}", f"spark.{quoted}"
    if data_type.upper().startswith(NUMERIC_TYPES):
        scale = f"greatest(abs(cast({duck} as double)), abs(cast({spark} as double)), 1e-300)"
        return (
            f"(({duck} is null) != ({spark} is null) or abs(cast({duck} as double)"
            f" - cast({spark} as double)) > {tolerance!r} * {scale})"
        )
    if "TIME ZONE" in data_type.upper():
        # Spark's instants are plain timestamps read back in UTC.
        return f"(cast({duck} as timestamp) is distinct from cast({spark} as timestamp))"
    return f"({duck} is distinct from {spark})"


def describe_differences(comparisons: list[MartComparison]) -> str:
    """A readable account of every mart that differs ('' when all are equal)."""
    lines = []
    for comparison in comparisons:
        if comparison.equal:
            continue
        lines.append(
            f"{comparison.mart} (key {comparison.key}): {comparison.rows} rows on DuckDB,"
            f" {comparison.spark_rows} on Spark; keys only on DuckDB"
            f" {comparison.only_in_duckdb}, only on Spark {comparison.only_in_spark}"
        )
        if comparison.missing_columns or comparison.extra_columns:
            lines.append(
                f"  columns missing on Spark {comparison.missing_columns},"
                f" extra on Spark {comparison.extra_columns}"
            )
        for column, count in comparison.differing.items():
            lines.append(f"  {column}: {count} rows differ")
        lines.extend(f"    {example}" for example in comparison.examples)
    return "\n".join(lines)
