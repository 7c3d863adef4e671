"""Billed cost in the marts, built from the billing emulator over real HTTP (issue 17).

The billing emulator serves the planted organisation's billed view: the clients' own cost
except for planted, ground-truthed differences (`simulation/billing.py`). The marts must
find each one and give its reason, and every day's billed rows must add up to exactly the
billed total, to the fractional cent.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from configuration.settings import PrivacyMode
from governance.pseudonyms import identifier_columns_from_manifest
from ingestion.paths import DataLayout
from simulation.billing import BillingData, usd_of
from simulation.verify import billing_mismatches
from tests.support.billing import pull_generated_billing
from tests.support.organisations import BuiltOrganisation, build_billed_warehouse, copy_data_dir
from warehouse.build import build_warehouse
from warehouse.publish import ServingPrivacy, publish_serving


def _truth(built: BuiltOrganisation) -> Path:
    return built.data_dir.parent / "billing_truth"


def _rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_the_first_pull_matches_the_provisional_bill(billed_org: BuiltOrganisation) -> None:
    """B1: billed equals the first revision exactly; lost telemetry, web search and the day
    still to be restated each carry their reason."""
    assert billing_mismatches(billed_org.serving_database, _truth(billed_org), final=False) == []


def test_a_restated_day_replaces_the_provisional_one(
    billed_org: BuiltOrganisation, tmp_path: Path
) -> None:
    """B2: the second pull sees the restated day revised; the rebuilt marts hold the final
    figure only (replaced, never added to), and the day's reason is gone."""
    copy = copy_data_dir(billed_org, tmp_path / "data")
    billing = BillingData.load(Path(billed_org.generated.output_dir))
    pull_generated_billing(billing, DataLayout(copy.data_dir), revision=1)
    result = build_warehouse(DataLayout(copy.data_dir))
    assert result.success, result.failures or result.error
    assert billing_mismatches(copy.serving_database, _truth(billed_org), final=True) == []
    before = billing_mismatches(copy.serving_database, _truth(billed_org), final=False)
    assert any("billed total" in line for line in before), "the restated day did not change"


def test_without_the_beta_the_legacy_bill_reconciles_all_products_at_once(
    planted_org: BuiltOrganisation, tmp_path: Path
) -> None:
    """B3: an organisation without the beta is billed through the legacy cost report, which
    has no product: the same planted differences are found over all products."""
    truth = build_billed_warehouse(tmp_path, planted_org, beta_available=False, revision=1)
    serving = tmp_path / "data" / "serving" / "warehouse.duckdb"
    assert billing_mismatches(serving, truth, final=True, by_product=False) == []
    assert _rows(serving, "select distinct billed_source from marts.fct_billed_cost_daily") == [
        ("admin_legacy",)
    ]


def test_estimates_never_enter_billed_cost(billed_org: BuiltOrganisation) -> None:
    """B4: Claude Code Analytics' estimates sit beside billed cost, never inside it: the
    billed total is the bill's to the nano-dollar, and the estimates differ from it as
    planted (cache writes priced at the 5-minute rate, no web search)."""
    billing = BillingData.load(Path(billed_org.generated.output_dir))
    ((total,),) = _rows(
        billed_org.serving_database, "select sum(billed_cost_usd) from marts.fct_billed_cost_daily"
    )
    assert total == usd_of(sum(usage.cost_nano for usage in billing.rows(0)))
    ((billed, estimated),) = _rows(
        billed_org.serving_database,
        """
        select
            sum(billed_cost_usd) filter (where claude_code_estimated_cost_usd is not null),
            sum(claude_code_estimated_cost_usd)
        from marts.fct_cost_reconciliation_daily
        """,
    )
    ((estimates,),) = _rows(
        billed_org.serving_database,
        "select sum(estimated_cost_usd) from marts.fct_claude_code_productivity_daily",
    )
    assert estimated == estimates
    assert billed != estimated


def test_claude_code_productivity_is_the_report_per_person(
    billed_org: BuiltOrganisation,
) -> None:
    """B5: one row per person, day and local or remote use, as Claude Code Analytics
    reports it, matched to `dim_users`; the subscription user it omits has no row."""
    billing = BillingData.load(Path(billed_org.generated.output_dir))
    expected = {}
    for day in sorted({usage.day for usage in billing.usage}):
        for row in billing.claude_code_rows(day, 0):
            estimate = sum(usage.estimated_cents() for usage in row.models) / 100
            expected[day, row.member.account_id, row.is_remote] = (
                row.sessions,
                row.edits_accepted + row.writes_accepted,
                estimate,
            )
    rows = _rows(
        billed_org.serving_database,
        """
        select mart.usage_date, users.user_account_id, mart.is_remote, mart.sessions,
               mart.edits_accepted, mart.estimated_cost_usd
        from marts.fct_claude_code_productivity_daily as mart
        left join marts.dim_users as users using (user_key)
        """,
    )
    landed = {(day, account, remote): tuple(rest) for day, account, remote, *rest in rows}
    assert landed == expected
    assert any(remote for _, _, remote in landed)
    absent = billing.subscription_account_id
    assert absent and all(account != absent for _, account, _ in landed)


def test_enterprise_analytics_agrees_with_telemetry_person_by_person(
    billed_org: BuiltOrganisation,
) -> None:
    """B7: on every day Enterprise Analytics covered, its sessions, Cowork messages and
    actions per person equal what the clients' telemetry says (the emulator counts from the
    same organisation, and no difference is planted), and every person is matched."""
    billing = BillingData.load(Path(billed_org.generated.output_dir))
    rows = _rows(
        billed_org.serving_database,
        """
        select activity_date, user_account_id, enterprise_sessions, enterprise_cowork_messages,
               reason, user_key is not null
        from marts.fct_activity_reconciliation_daily
        """,
    )
    assert rows, "no Enterprise Analytics day was reconciled"
    assert [row for row in rows if row[4] is not None or not row[5]] == []
    expected = {
        (activity.day, activity.member.account_id): activity.sessions
        for activity in billing.activity
        if activity.sessions or activity.prompts or activity.tool_results
    }
    assert {(day, account): sessions for day, account, sessions, *_ in rows} == expected


def test_strict_privacy_pseudonymises_the_reports_actors(
    billed_org: BuiltOrganisation, tmp_path: Path
) -> None:
    """B8: under strict, the billing marts name people by pseudonym only: no e-mail, API key
    name or account id survives, and the pseudonyms still join to dim_users."""
    manifest = billed_org.data_dir / "build" / "dbt-target" / "manifest.json"
    identifiers = identifier_columns_from_manifest(manifest)
    privacy = ServingPrivacy(PrivacyMode.STRICT, b"a-test-pepper-of-enough-length", identifiers)
    serving = publish_serving(
        billed_org.build_database, tmp_path / "serving.duckdb", privacy=privacy
    ).path
    members = BillingData.load(Path(billed_org.generated.output_dir)).members.values()
    names = {member.email for member in members} | {member.account_id for member in members}
    for mart in (
        "fct_claude_code_productivity_daily",
        "fct_activity_reconciliation_daily",
    ):
        rows = _rows(serving, f"select * from marts.{mart}")
        assert rows, mart
        text = " ".join(str(value) for row in rows for value in row)
        assert not any(name in text for name in names), mart
        ((unmatched,),) = _rows(
            serving,
            f"select count(*) from marts.{mart} where user_key is not null"
            " and user_key not in (select user_key from marts.dim_users)",
        )
        assert unmatched == 0, mart
