"""Erasure (`forget`): after it, no landed file, build table, serving table or Parquet export
holds the person's e-mail or ids; everyone else's data is intact; a rerun is a no-op; an
erasure interrupted between two files finishes on the rerun.

One small organisation (OTel + Compliance from the emulator) is built once per run
(`small_org_warehouse`); each test erases in its own copy of the data directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from governance.erasure import AUDIT_FILE, PersonNotFoundError, forget_person, resolve_identity
from ingestion.paths import DataLayout
from tests.support.organisations import BuiltOrganisation, copy_data_dir


@pytest.fixture(scope="module")
def built(
    small_org_warehouse: BuiltOrganisation, tmp_path_factory: pytest.TempPathFactory
) -> BuiltOrganisation:
    built = copy_data_dir(small_org_warehouse, tmp_path_factory.mktemp("erasure") / "data")
    layout = DataLayout(built.data_dir)
    person = _person(layout)
    other = _other_email(layout, person["email"])
    # Quarantined raw lines: one of the person's (their e-mail), one of someone else's.
    layout.otel_quarantine.mkdir(parents=True, exist_ok=True)
    lines = [
        {"file": "logs.jsonl", "offset": 1, "line": f'{{"user.email": "{person["email"]}"'},
        {"file": "logs.jsonl", "offset": 2, "line": f'{{"user.email": "{other}"'},
    ]
    quarantine = layout.otel_quarantine / "lines-test-000000000000001.jsonl"
    quarantine.write_text("".join(json.dumps(line) + "\n" for line in lines))
    quarantine.chmod(0o600)
    # Quarantined Compliance API records: the person's directory entry, and someone else's.
    records = [
        {"entity": "users", "reason": "id is null", "record_json": json.dumps({"email": email})}
        for email in (person["email"], other)
    ]
    api_quarantine = layout.compliance("quarantine") / "users" / "2026-03-10-page-test.jsonl"
    api_quarantine.parent.mkdir(parents=True)
    api_quarantine.write_text("".join(json.dumps(record) + "\n" for record in records))
    return built


def _person(layout: DataLayout) -> dict[str, str]:
    """The directory person with the most events that carry e-mail, account id and uuid."""
    events = layout.otel_events / "*" / "*.parquet"
    users = layout.compliance("users") / "*" / "*.parquet"
    email, account_id, uuid = duckdb.execute(
        f"select lower(user_email), user_account_id, any_value(user_account_uuid)"
        f" from read_parquet('{events}') where user_email is not null"
        f" and user_account_id is not null and user_account_uuid is not null"
        f" and user_account_id in (select id from read_parquet('{users}'))"
        f" group by all order by count(*) desc limit 1"
    ).fetchall()[0]
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        (user_key,) = connection.execute(
            "select user_key from marts.dim_users where user_account_id = ?", [account_id]
        ).fetchall()[0]
    return {"email": email, "account_id": account_id, "uuid": uuid, "user_key": user_key}


def _other_email(layout: DataLayout, email: str) -> str:
    users = layout.compliance("users") / "*" / "*.parquet"
    return duckdb.execute(
        f"select lower(min(email)) from read_parquet('{users}') where lower(email) <> '{email}'"
    ).fetchall()[0][0]


def _copy(built: BuiltOrganisation, target: Path) -> DataLayout:
    shutil.copytree(built.data_dir, target, symlinks=True)
    return DataLayout(target)


def _table_strings(table: pa.Table) -> list[str]:
    """Every string (also inside lists) of an Arrow table, lower-cased."""
    found = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            column = pc.list_flatten(column)
            kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            found += [value.lower() for value in column.to_pylist() if value]
    return found


def _database_strings(database: Path) -> dict[str, list[str]]:
    """`schema.table` -> every text value of its tables (views are recomputed: skipped)."""
    found = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for schema, table in connection.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
        ).fetchall():
            found[f"{schema}.{table}"] = _table_strings(
                connection.sql(f'select * from "{schema}"."{table}"').to_arrow_table()
            )
    return found


def _leaks(layout: DataLayout, needles: list[str]) -> dict[str, list[str]]:
    """Where any needle still appears: landed files, quarantine, build, serving, exports."""
    needles = [needle.lower() for needle in needles]
    leaks: dict[str, list[str]] = {}

    def check(where: str, values: list[str]) -> None:
        hits = sorted({n for n in needles for value in values if n in value})
        if hits:
            leaks[where] = hits

    for path in sorted((layout.root / "landing").rglob("*")):
        if path.suffix == ".parquet":
            check(str(path), _table_strings(pq.ParquetFile(path).read()))
        elif path.is_file():
            check(str(path), [path.read_bytes().decode("utf-8", "replace").lower()])
    for path in sorted(layout.serving_parquet.rglob("*.parquet")):
        check(str(path), _table_strings(pq.ParquetFile(path).read()))
    for database in (layout.build_database, layout.serving_database):
        for table, values in _database_strings(database).items():
            check(f"{database.parent.name}/{database.name}:{table}", values)
    # Raw bytes of every other file: state, logs, and the database files themselves (a
    # deleted row's bytes may survive in a database file's free blocks).
    for path in sorted(layout.root.rglob("*")):
        if path.is_file() and "landing" not in path.parts and path.suffix != ".parquet":
            check(f"bytes:{path}", [path.read_bytes().decode("utf-8", "replace").lower()])
    return leaks


def _landed_rows(layout: DataLayout) -> dict[str, int]:
    counts = {}
    for area in ("events", "metrics", "content"):
        files = list((layout.root / "landing" / "otel" / area).glob("*/*.parquet"))
        counts[area] = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    for entity in ("users", "activities", "sessions"):
        files = list(layout.compliance(entity).glob("*/*.parquet"))
        counts[entity] = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    return counts


def _person_rows(layout: DataLayout, person: dict[str, str]) -> dict[str, int]:
    events = layout.otel_events / "*" / "*.parquet"
    metrics = layout.otel_metrics / "*" / "*.parquet"
    users = layout.compliance("users") / "*" / "*.parquet"
    mine = f"user_account_id = '{person['account_id']}' or lower(user_email) = '{person['email']}'"
    return {
        "events": duckdb.execute(
            f"select count(*) from read_parquet('{events}') where {mine}"
        ).fetchall()[0][0],
        "metrics": duckdb.execute(
            f"select count(*) from read_parquet('{metrics}') where {mine}"
        ).fetchall()[0][0],
        "users": duckdb.execute(
            f"select count(*) from read_parquet('{users}') where id = '{person['account_id']}'"
        ).fetchall()[0][0],
    }


def _others_cost(database: Path, user_key: str) -> float:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select round(sum(cost_usd), 6) from marts.fct_user_daily_activity where user_key <> ?",
            [user_key],
        ).fetchall()[0][0]


def test_forget_by_email_leaves_no_trace_and_keeps_everyone_else(built, tmp_path) -> None:
    layout = _copy(built, tmp_path / "data")
    person = _person(layout)
    needles = list(person.values())
    before = _leaks(layout, needles)
    assert any("landing/otel/events" in where for where in before)
    assert any(where.startswith("serving/warehouse.duckdb:marts") for where in before)
    assert any(where.startswith("build/warehouse.duckdb:") for where in before)
    assert any("serving/parquet" in where for where in before)
    rows_before, mine = _landed_rows(layout), _person_rows(layout, person)
    assert mine["events"] and mine["users"]
    others_cost = _others_cost(layout.serving_database, person["user_key"])

    summary = forget_person(layout, person["email"].upper())

    assert summary.build_success, summary.build_failures
    assert summary.full_refresh  # no retention: the landing still covers every built day
    assert _leaks(layout, needles) == {}
    rows_after = _landed_rows(layout)
    assert rows_after["events"] == rows_before["events"] - mine["events"]
    assert rows_after["metrics"] == rows_before["metrics"] - mine["metrics"]
    assert rows_after["users"] == rows_before["users"] - mine["users"]
    assert summary.rows_removed["otel_events"] == mine["events"]
    assert summary.quarantine_lines_removed == 2  # an OTel line and a Compliance record
    assert _others_cost(layout.serving_database, person["user_key"]) == others_cost
    # The other person's quarantined line is still there.
    other = _other_email(layout, person["email"])
    quarantined = (layout.otel_quarantine / "lines-test-000000000000001.jsonl").read_text()
    assert other in quarantined and len(quarantined.splitlines()) == 1
    api_quarantine = layout.compliance("quarantine") / "users" / "2026-03-10-page-test.jsonl"
    assert other in api_quarantine.read_text() and len(api_quarantine.read_text().splitlines()) == 1

    audit_path = layout.root / "state" / AUDIT_FILE
    assert audit_path.stat().st_mode & 0o777 == 0o600
    audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert len(audit) == 1 and audit[0]["request_hash"] == summary.request_hash
    assert audit[0]["rows_removed"]["otel_events"] == mine["events"]
    text = audit_path.read_text().lower()
    assert not any(needle.lower() in text for needle in needles)

    # A rerun finds nobody: nothing changes.
    with pytest.raises(PersonNotFoundError):
        forget_person(layout, person["email"])
    assert _landed_rows(layout) == rows_after


def test_forget_by_account_id_resolves_every_alias(built, tmp_path) -> None:
    layout = _copy(built, tmp_path / "data")
    person = _person(layout)
    identity = resolve_identity(layout, person["account_id"])
    assert person["email"] in identity.emails
    assert person["uuid"] in identity.account_uuids
    assert person["user_key"] in identity.user_keys
    summary = forget_person(layout, person["account_id"], rebuild=False)
    assert summary.rows_removed["otel_events"] > 0
    leaks = _leaks(layout, list(person.values()))
    # Without the rebuild (and its compaction) only the served copies, and the freed blocks
    # of the build database file, may still hold the person.
    unfinished = {
        where
        for where in leaks
        if "serving" not in where and not where.endswith("build/warehouse.duckdb")
    }
    assert leaks and not unfinished, unfinished


@pytest.mark.parametrize(
    ("point", "after"),
    [
        ("erasure_after_file", "3"),  # mid-way through the landed files
        ("erasure_before_rebuild", "1"),  # all erased, nothing rebuilt or republished
    ],
)
def test_an_interrupted_erasure_finishes_on_the_rerun(built, tmp_path, point, after) -> None:
    layout = _copy(built, tmp_path / "data")
    person = _person(layout)
    rows_before, mine = _landed_rows(layout), _person_rows(layout, person)
    # Killed (SIGKILL) at the crash point.
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from governance.erasure import forget_person;"
            " from ingestion.paths import DataLayout;"
            " forget_person(DataLayout(__import__('pathlib').Path(sys.argv[1])), sys.argv[2])",
            str(layout.root),
            person["email"],
        ],
        env=os.environ | {"COWORK_TEST_CRASH_AT": point, "COWORK_TEST_CRASH_AFTER": after},
        check=False,
    )
    assert crashed.returncode == -9
    # Every file is whole (old or new): all of them read.
    for path in (layout.root / "landing").rglob("*.parquet"):
        pq.ParquetFile(path).read()
    assert not list((layout.root / "landing").rglob(".*.tmp-*"))
    summary = forget_person(layout, person["email"])
    assert summary.build_success, summary.build_failures
    assert _leaks(layout, list(person.values())) == {}
    rows_after = _landed_rows(layout)
    assert rows_after["events"] == rows_before["events"] - mine["events"]
    assert rows_after["metrics"] == rows_before["metrics"] - mine["metrics"]
    assert len((layout.root / "state" / AUDIT_FILE).read_text().splitlines()) == 1


def test_forget_cli_prints_counts_not_the_person(built, tmp_path) -> None:
    from typer.testing import CliRunner

    from cowork_analytics.cli import app

    layout = _copy(built, tmp_path / "data")
    person = _person(layout)
    result = CliRunner().invoke(
        app, ["forget", "--user", person["email"], "--yes", "--data-dir", str(layout.root)]
    )
    assert result.exit_code == 0, result.output
    assert "rows removed" in result.output
    assert person["email"] not in result.output.lower()
    assert person["account_id"] not in result.output
    refused = CliRunner().invoke(
        app, ["forget", "--user", "nobody@example.invalid", "--yes", "--data-dir", str(layout.root)]
    )
    assert refused.exit_code == 1
