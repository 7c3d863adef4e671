"""The mart comparison between engines finds every kind of difference, and only those.

Spark's side is written here the way Spark writes a table (Parquet files in a folder, day
partitions as `column=value` folders, `_SUCCESS` markers), so no Spark is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from warehouse.engine_comparison import compare_marts, describe_differences, mart_keys

ROWS = """
    select * from (values
        ('a', 1.5::double, 10::bigint, 0.000000123::decimal(38, 9),
         '2026-03-01 10:00:00+00'::timestamptz, 'x', '2026-03-01'::date),
        ('b', 2e-12::double, 20::bigint, 7.000000001::decimal(38, 9),
         '2026-03-02 23:59:59.123456+00'::timestamptz, null, '2026-03-02'::date)
    ) as t(id, ratio, n, cost, seen_at, label, activity_date)
"""


def _manifest(path: Path, marts: dict[str, str]) -> Path:
    nodes = {}
    for mart, key in marts.items():
        model = f"model.cowork_analytics.{mart}"
        nodes[model] = {"resource_type": "model", "schema": "marts", "name": mart}
        nodes[f"test.cowork_analytics.unique_{mart}_{key}"] = {
            "resource_type": "test",
            "schema": "dbt_test__audit",
            "name": f"unique_{mart}_{key}",
            "attached_node": model,
            "column_name": key,
            "test_metadata": {"name": "unique", "kwargs": {"column_name": key}},
        }
    path.write_text(json.dumps({"nodes": nodes}))
    return path


@pytest.fixture
def engines(tmp_path: Path):
    """A DuckDB build with one mart, and a function writing Spark's version of it."""
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("set TimeZone = 'UTC'; create schema marts")
        connection.execute(f"create table marts.fct_things as {ROWS}")
    warehouse = tmp_path / "spark"
    manifest = _manifest(tmp_path / "manifest.json", {"fct_things": "id"})

    def write_spark(select: str = ROWS, *, partitioned: bool = True) -> None:
        folder = warehouse / "marts.db" / "fct_things"
        folder.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as connection:
            connection.execute("set TimeZone = 'UTC'")
            # Spark stores instants as plain UTC timestamps.
            relation = f"select * replace (cast(seen_at as timestamp) as seen_at) from ({select})"
            options = "format parquet" + (", partition_by (activity_date)" if partitioned else "")
            target = folder if partitioned else folder / "part-00000.parquet"
            connection.execute(f"copy ({relation}) to '{target}' ({options})")
        (folder / "_SUCCESS").touch()

    return database, warehouse, manifest, write_spark


def test_the_same_rows_are_equal(engines) -> None:
    database, warehouse, manifest, write_spark = engines
    write_spark()
    (comparison,) = compare_marts(database, warehouse, manifest)
    assert comparison.equal, describe_differences([comparison])
    assert comparison.rows == comparison.spark_rows == 2
    assert describe_differences([comparison]) == ""


def test_an_unpartitioned_table_is_read_too(engines) -> None:
    database, warehouse, manifest, write_spark = engines
    write_spark(partitioned=False)
    (comparison,) = compare_marts(database, warehouse, manifest)
    assert comparison.equal


def test_numbers_within_the_relative_tolerance_are_equal(engines) -> None:
    database, warehouse, manifest, write_spark = engines
    # 1.5 * (1 + 1e-12) differs by far less than 1e-9 relative.
    write_spark(ROWS.replace("1.5::double", "1.5000000000015::double"))
    (comparison,) = compare_marts(database, warehouse, manifest)
    assert comparison.equal


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (("1.5::double", "1.5000001::double"), "ratio"),
        (("2e-12::double", "3e-12::double"), "ratio"),  # tiny values are judged relatively
        (("0.000000123::decimal(38, 9)", "0.000000124::decimal(38, 9)"), "cost"),
        (("10::bigint", "11::bigint"), "n"),
        (("'x'", "'y'"), "label"),
        (("null, '2026-03-02'", "'z', '2026-03-02'"), "label"),  # null vs a value
        (("10:00:00+00", "10:00:01+00"), "seen_at"),
    ],
)
def test_any_other_difference_is_found(engines, change, column) -> None:
    database, warehouse, manifest, write_spark = engines
    write_spark(ROWS.replace(*change))
    (comparison,) = compare_marts(database, warehouse, manifest)
    assert not comparison.equal
    assert comparison.differing == {column: 1}
    assert column in describe_differences([comparison])


def test_missing_and_extra_rows_and_columns_are_found(engines) -> None:
    database, warehouse, manifest, write_spark = engines
    write_spark(
        f"select id || '2' as id, * exclude (id, label), 1 as surplus from ({ROWS})"
        f" union all select 'a', * exclude (id, label), 1 from ({ROWS}) where id = 'a'"
    )
    (comparison,) = compare_marts(database, warehouse, manifest)
    assert comparison.spark_rows == 3
    assert (comparison.only_in_duckdb, comparison.only_in_spark) == (1, 2)
    assert comparison.missing_columns == ["label"]
    assert comparison.extra_columns == ["surplus"]


def test_an_empty_table_on_both_engines_is_equal(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema marts; create table marts.fct_none (id varchar)")
    folder = tmp_path / "spark" / "marts.db" / "fct_none"
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    # Spark writes one schema-only file for an empty table.
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select 'x' as id where false) to '{folder / 'part-0.parquet'}' (format parquet)"
        )
    manifest = _manifest(tmp_path / "manifest.json", {"fct_none": "id"})
    (comparison,) = compare_marts(database, tmp_path / "spark", manifest)
    assert comparison.equal


def test_a_mart_spark_did_not_build_is_an_error(engines) -> None:
    database, warehouse, manifest, _ = engines
    with pytest.raises(FileNotFoundError, match="fct_things"):
        compare_marts(database, warehouse, manifest)


def test_every_mart_needs_a_unique_key_to_match_rows_on(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "manifest.json", {"fct_keyed": "id"})
    nodes = json.loads(manifest.read_text())
    nodes["nodes"]["model.cowork_analytics.fct_unkeyed"] = {
        "resource_type": "model",
        "schema": "marts",
        "name": "fct_unkeyed",
    }
    manifest.write_text(json.dumps(nodes))
    with pytest.raises(ValueError, match="fct_unkeyed"):
        mart_keys(manifest)
