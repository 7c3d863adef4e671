"""Each mart as Parquet under `serving/parquet/`, for BI tools that read files.

Marts with `rebuilt_at` and `activity_date` columns (the incremental ones) are written as
one file per day, `<mart>/activity_date=YYYY-MM-DD/data.parquet` (hive style), and only the
days holding rows rebuilt since the last export are rewritten, unless the mart was
published under another privacy mode or pepper since (its table comment says which): then
every day is rewritten, so the files never mix real identifiers and pseudonyms. Every other
mart is one file, `<mart>.parquet`, rewritten each time. Each file is written beside its
final name and renamed into place, so a reader never sees a half-written file. A fresh
export (after an erasure) writes a whole new directory and swaps it for the old one, so no
file of the previous version survives.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb

from ingestion.parquet import fsync_directory

# mart -> the newest rebuilt_at already exported, and the comment (privacy) it was under
STATE_FILE = ".exported.json"


def _copy(connection: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        connection.execute(f"copy ({query}) to '{temporary}' (format parquet, compression zstd)")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def export_parquet(
    serving_database: Path, directory: Path, *, fresh: bool = False
) -> dict[str, int]:
    """Write the marts of `serving_database` as Parquet under `directory`.

    Args:
        serving_database: the published marts.
        directory: where the Parquet files go.
        fresh: write every file into a new directory and swap it for `directory`.

    Returns:
        Files written per mart.
    """
    if fresh:
        return _export_afresh(serving_database, directory)
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    written: dict[str, int] = {}
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        marts = connection.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
        for mart, comment in marts:
            columns = {
                name
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns()"
                    " where schema_name = 'marts' and table_name = ?",
                    [mart],
                ).fetchall()
            }
            if not {"rebuilt_at", "activity_date"} <= columns:
                _copy(connection, f"select * from marts.{mart}", directory / f"{mart}.parquet")
                written[mart] = 1
                continue
            previous = state.get(mart)
            exported_until = None
            if isinstance(previous, dict) and previous.get("comment") == comment:
                exported_until = previous["rebuilt_until"]
            else:
                shutil.rmtree(directory / mart, ignore_errors=True)
            days = connection.execute(
                f"select distinct activity_date from marts.{mart}"
                " where ? is null or rebuilt_at > cast(? as timestamptz) order by 1",
                [exported_until, exported_until],
            ).fetchall()
            for (day,) in days:
                _copy(
                    connection,
                    f"select * exclude (activity_date) from marts.{mart}"
                    f" where activity_date = date '{day}'",
                    directory / mart / f"activity_date={day}" / "data.parquet",
                )
            written[mart] = len(days)
            (newest,) = connection.execute(f"select max(rebuilt_at) from marts.{mart}").fetchone()
            if newest is not None:
                state[mart] = {"rebuilt_until": newest.isoformat(), "comment": comment}
    temporary = state_path.with_name(f".{STATE_FILE}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, state_path)
    fsync_directory(directory)
    return written


def _export_afresh(serving_database: Path, directory: Path) -> dict[str, int]:
    new = directory.with_name(f".{directory.name}.new-{os.getpid()}")
    shutil.rmtree(new, ignore_errors=True)
    written = export_parquet(serving_database, new)
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    os.replace(new, directory)
    fsync_directory(directory.parent)
    shutil.rmtree(old, ignore_errors=True)
    return written
