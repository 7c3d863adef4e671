"""Erasure that lasts (issue 19): after `forget`, the sources that still hold the person do not
land them again, and an incremental rebuild leaves no share of them in aggregates that name
nobody.

- Compliance: the API still serves the person (directory, sessions, chats, their
  activities); the next pull drops them and counts what it dropped.
- OTel: a later collector file holding their records lands everyone else's only.
- Billing: the per-user reports (Claude Code Analytics, Enterprise Analytics) still list
  them; the next pull drops their rows.
- After raw retention, `forget` rebuilds incrementally; the team and organisation day
  totals then equal those of a full-refresh erasure of the same person.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from governance.erasure import Identity, forget_person, resolve_identity
from governance.retention import apply_retention
from ingestion.manifest import Manifest
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.billing import BillingData
from simulation.compliance_pull import pull_generated_compliance
from tests.support.billing import pull_generated_billing
from tests.support.organisations import BuiltOrganisation, copy_data_dir
from warehouse.build import build_warehouse

# The small organisation spans 7 to 10 March 2026; "now" is the 11th (as in test_retention).
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)


def _person_email(built: BuiltOrganisation) -> str:
    """A directory person with Claude Code usage, so that both billing reports list them
    (not the planted subscription user, whom Claude Code Analytics omits)."""
    layout = DataLayout(built.data_dir)
    events = layout.otel_events / "*" / "*.parquet"
    users = layout.compliance("users") / "*" / "*.parquet"
    omitted = BillingData.load(Path(built.generated.output_dir)).subscription_account_id
    (email,) = duckdb.execute(
        f"select lower(user_email) from read_parquet('{events}')"
        f" where user_email is not null and service_name = 'claude-code'"
        f" and user_account_id in (select id from read_parquet('{users}'))"
        f" and user_account_id is distinct from ?"
        f" group by all order by count(*) desc, 1 limit 1",
        [omitted],
    ).fetchall()[0]
    return email


def _needles(identity: Identity) -> list[str]:
    return sorted(
        v.lower() for v in identity.emails | identity.account_ids | identity.account_uuids
    )


def _strings(table: pa.Table) -> list[str]:
    found = []
    for column in table.columns:
        if pa.types.is_list(column.type):
            column = pc.list_flatten(column)
        if pa.types.is_string(column.type):
            found += [value.lower() for value in column.to_pylist() if value]
    return found


def _landed_mentions(layout: DataLayout, needles: list[str]) -> dict[str, int]:
    """Landed file -> values naming the person (a JSON or text file's lines too)."""
    hits = {}
    for path in sorted((layout.root / "landing").rglob("*")):
        if path.suffix == ".parquet":
            values = _strings(pq.read_table(path))
        elif path.is_file():
            values = path.read_text(errors="replace").lower().splitlines()
        else:
            continue
        count = sum(1 for value in values if any(needle in value for needle in needles))
        if count:
            hits[str(path.relative_to(layout.root))] = count
    return hits


def _database_mentions(database: Path, needles: list[str]) -> dict[str, int]:
    hits = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for schema, table in connection.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
        ).fetchall():
            values = _strings(
                connection.sql(f'select * from "{schema}"."{table}"').to_arrow_table()
            )
            count = sum(1 for value in values if any(needle in value for needle in needles))
            if count:
                hits[f"{schema}.{table}"] = count
    return hits


def _their_lines(otel_dir: Path, needles: list[str]) -> dict[str, list[str]]:
    """The collector lines naming the person, per signal file name (logs, metrics)."""
    found: dict[str, list[str]] = {}
    for path in sorted(otel_dir.rglob("*.jsonl")):
        signal = "metrics" if "metric" in path.name else "logs"
        for line in path.read_text().splitlines():
            if any(needle in line.lower() for needle in needles):
                found.setdefault(signal, []).append(line)
    return found


@pytest.fixture(scope="module")
def forgotten(
    small_org_warehouse: BuiltOrganisation, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuiltOrganisation, Identity]:
    """A copy of the small organisation with one person forgotten (rebuilt and published)."""
    built = copy_data_dir(small_org_warehouse, tmp_path_factory.mktemp("lasts") / "data")
    layout = DataLayout(built.data_dir)
    email = _person_email(built)
    identity = resolve_identity(layout, email)
    summary = forget_person(layout, email)
    assert summary.build_success, summary.build_failures
    assert summary.identifiers_registered >= 3  # e-mail, account id, account uuid (+ devices)
    assert _landed_mentions(layout, _needles(identity)) == {}
    return built, identity


def test_a_forgotten_person_is_not_landed_again_by_any_source(forgotten, tmp_path) -> None:
    built, identity = forgotten
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.data_dir, layout.root, symlinks=True)
    needles = _needles(identity)

    # GIVEN the Compliance API still serves the person, and the activity history is read
    # again from the start (as their new activities would be).
    manifest = Manifest(layout.manifest)
    manifest.set_state("compliance.activities", {})
    manifest.close()
    compliance = pull_generated_compliance(built.generated, layout)
    # THEN their directory entry and everything they own or did is dropped, and counted.
    assert compliance.erased.get("users") == 1
    assert compliance.erased.get("activities", 0) > 0
    assert sum(compliance.erased.values()) == sum(
        compliance.erased.get(entity, 0)
        for entity in ("users", "members", "activities", "sessions", "chats", "projects")
    )
    assert _landed_mentions(layout, needles) == {}

    # GIVEN a later collector file holding their records beside other people's.
    collector = tmp_path / "collector"
    collector.mkdir()
    lines = _their_lines(Path(built.generated.otel_dir), needles)
    assert lines.get("logs") and lines.get("metrics")
    for signal, _signal_lines in lines.items():
        (collector / f"{signal}-later.jsonl").write_text(
            "".join(f"{line}\n" for line in lines[signal])
        )
    landing = land_otel([collector], layout)
    # THEN only the others' records land; the person's are dropped and counted.
    assert landing.erased_records_dropped > 0
    assert landing.erased_metric_points_dropped > 0
    assert landing.quarantined_lines == 0
    assert _landed_mentions(layout, needles) == {}

    # GIVEN the billing and analytics reports still list them per day.
    billing = pull_generated_billing(BillingData.load(Path(built.generated.output_dir)), layout)
    assert billing.erased.get("enterprise_users", 0) > 0
    assert billing.erased.get("claude_code_users", 0) > 0
    assert _landed_mentions(layout, needles) == {}

    # AND the next build serves nobody of that name, and its database holds none.
    result = build_warehouse(layout)
    assert result.success, result.failures or result.error
    assert _database_mentions(layout.serving_database, needles) == {}
    assert _database_mentions(layout.build_database, needles) == {}


# Marts whose rows name nobody: the organisation's and the teams' totals per day (or
# month), and how they are computed.
AGGREGATES = {
    "fct_telemetry_health": "select * from marts.fct_telemetry_health",
    "fct_performance_daily": "select * exclude (rebuilt_at) from marts.fct_performance_daily",
    "fct_team_cost_monthly": "select * from marts.fct_team_cost_monthly",
    "fct_cost_reconciliation_daily": "select * from marts.fct_cost_reconciliation_daily",
    "organisation_daily": (
        "select activity_date, sum(cost_usd), sum(prompts), sum(api_requests),"
        " sum(sessions), sum(active_minutes), count(*)"
        " from marts.fct_user_daily_activity group by all"
    ),
    "team_daily": (
        "select team_name, activity_date, model, sum(cost_usd), sum(input_tokens),"
        " sum(api_requests), count(*) from marts.fct_cost_daily group by all"
    ),
}


def _aggregates(database: Path) -> dict[str, list[tuple]]:
    def comparable(value: object) -> object:
        return round(float(value), 6) if isinstance(value, float | Decimal) else value

    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            name: sorted(
                (tuple(comparable(v) for v in row) for row in connection.execute(query).fetchall()),
                key=repr,
            )
            for name, query in AGGREGATES.items()
        }


def test_after_retention_an_incremental_erasure_leaves_no_share_in_totals(
    small_org_warehouse: BuiltOrganisation, tmp_path
) -> None:
    # Reference: the person forgotten while the landing still covers every day (a full
    # refresh, so no aggregate can hold them), then retention and the next build.
    reference = DataLayout(copy_data_dir(small_org_warehouse, tmp_path / "reference").data_dir)
    email = _person_email(small_org_warehouse)
    done = forget_person(reference, email)
    assert done.build_success and done.full_refresh, done.build_failures
    apply_retention(reference, NOW, raw_days=2)
    assert build_warehouse(reference).success

    # The same organisation where retention came first: the erasure must rebuild
    # incrementally (a full refresh would lose the 7th and 8th).
    layout = DataLayout(copy_data_dir(small_org_warehouse, tmp_path / "subject").data_dir)
    apply_retention(layout, NOW, raw_days=2)
    assert build_warehouse(layout).success
    before = _aggregates(layout.serving_database)
    done = forget_person(layout, email)
    assert done.build_success, done.build_failures
    assert not done.full_refresh

    after, expected = _aggregates(layout.serving_database), _aggregates(reference.serving_database)
    # The person's share was in the totals of the days past retention...
    assert before["fct_telemetry_health"] != expected["fct_telemetry_health"]
    assert before["organisation_daily"] != expected["organisation_daily"]
    # ...and is gone from every one of them, as if it had never landed.
    for name in AGGREGATES:
        assert after[name] == expected[name], name
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        (left,) = connection.execute(
            "select count(*) from duckdb_tables() where schema_name = 'erasure'"
        ).fetchall()[0]
    assert left == 0  # the days to rebuild are forgotten once rebuilt
