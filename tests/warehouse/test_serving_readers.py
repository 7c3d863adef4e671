"""A BI tool reading the serving file while the warehouse rebuilds and publishes (B7).

The reader is another process, as a BI tool is, querying through SQLAlchemy and
duckdb-engine with a read-only connection. Every answer must be complete and consistent:
the old warehouse or the new one, never a mix, never an error; a connection opened before
the publish keeps seeing the old version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from warehouse.build import build_warehouse

READER = r"""
import json, sys, time
from pathlib import Path
import sqlalchemy as sa

# Reads until the test creates the stop file (however long the rebuild takes here).
path, stop, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
give_up = time.monotonic() + 900
engine = sa.create_engine(
    f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=sa.pool.NullPool
)
query = sa.text(
    "select (select count(*) from marts.fct_api_requests),"
    " (select sum(cost_usd) from marts.fct_api_requests),"
    " (select sum(cost_usd) from marts.fct_user_daily_activity),"
    " (select sum(cost_usd) from marts.fct_cost_daily)"
)
if mode == "hold":
    # One connection opened before the publish and kept open: DuckDB keeps serving it (and
    # any other connection of this process) the version it opened.
    held = engine.connect()
    first = held.execute(query).fetchone()
    print(json.dumps({"held_first": [str(v) for v in first]}), flush=True)
    while not stop.exists() and time.monotonic() < give_up:
        time.sleep(0.1)
    last = held.execute(query).fetchone()
    print(json.dumps({"held_last": [str(v) for v in last]}), flush=True)
    sys.exit(0)
while not stop.exists() and time.monotonic() < give_up:
    try:
        with engine.connect() as connection:
            row = connection.execute(query).fetchone()
        print(json.dumps({"read": [str(v) for v in row]}), flush=True)
    except Exception as error:  # every failure is reported, not hidden
        print(json.dumps({"error": repr(error)}), flush=True)
    time.sleep(0.05)
"""


def _answer(layout: DataLayout) -> list[str]:
    import duckdb

    with duckdb.connect(str(layout.serving_database), read_only=True) as connection:
        row = connection.execute(
            "select (select count(*) from marts.fct_api_requests),"
            " (select sum(cost_usd) from marts.fct_api_requests),"
            " (select sum(cost_usd) from marts.fct_user_daily_activity),"
            " (select sum(cost_usd) from marts.fct_cost_daily)"
        ).fetchone()
    return [str(value) for value in row]


def test_readers_see_the_old_or_the_new_warehouse_never_a_mix(
    small_org: GenerationResult, first_file_warehouse: Path, tmp_path: Path
) -> None:
    # The old warehouse: a copy of the one built and published from the first collector file.
    shutil.copytree(first_file_warehouse / "data", tmp_path / "data")
    layout = DataLayout(tmp_path / "data")
    otel = Path(small_org.otel_dir)
    old = _answer(layout)

    stop = tmp_path / "stop-reading"
    readers = {
        mode: subprocess.Popen(
            [sys.executable, "-c", READER, str(layout.serving_database), str(stop), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("loop", "hold")
    }
    land_otel([otel], layout)
    assert build_warehouse(layout).success
    new = _answer(layout)
    time.sleep(2)  # the loop reader reconnects after the publish
    stop.touch()
    lines = []
    for reader in readers.values():
        stdout, stderr = reader.communicate(timeout=300)
        assert reader.returncode == 0, stderr
        lines += [json.loads(line) for line in stdout.splitlines()]
    errors = [line["error"] for line in lines if "error" in line]
    reads = [line["read"] for line in lines if "read" in line]
    assert errors == []
    assert old != new and int(new[0]) > int(old[0])
    assert all(read in (old, new) for read in reads)
    # Each answer is internally consistent: every mart adds up to the same total.
    assert all(read[1] == read[2] == read[3] for read in reads)
    assert new in reads  # the reader saw the publish
    held = {key: value for line in lines for key, value in line.items() if key.startswith("held")}
    assert held["held_first"] == old and held["held_last"] == old
