"""fct_cost_anomalies on generated organisations: it flags the planted spike and nothing else.

The planted organisation (tests/support/organisations.py `PLANTED_ORG`: 12 people, five weeks) has one
person with a day of many times their usual spend. The same organisation generated without
the spike has ordinary ups and downs only (busier days, a prompt on an Opus model), and
none of them passes the rule's defaults (5 robust standard deviations and $5 above the
subject's own median): the rule flags what a reviewer should look at, not every busy day.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from simulation.verify import mart_mismatches
from tests.support.organisations import PLANTED_ORG, BuiltOrganisation, build_organisation_warehouse

ANOMALIES = """
    select
        anomalies.subject_kind,
        coalesce(users.user_account_id, anomalies.team_name),
        cast(anomalies.activity_date as varchar),
        anomalies.team_name,
        anomalies.cost_usd,
        anomalies.baseline_median_usd,
        anomalies.excess_usd,
        anomalies.top_model,
        anomalies.top_tool,
        anomalies.top_session_id,
        anomalies.top_session_cost_usd,
        anomalies.history_days
    from marts.fct_cost_anomalies as anomalies
    left join marts.dim_users as users on anomalies.user_key = users.user_key
    order by all
"""


def _planted(organisation: BuiltOrganisation) -> list[dict[str, str]]:
    with (organisation.ground_truth / "planted_anomalies.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_the_planted_spike_is_the_only_anomaly(planted_org: BuiltOrganisation) -> None:
    """GIVEN one planted cost spike, WHEN the warehouse is built, THEN the person's day and
    their team's day are flagged, with the spike's model and session as drivers, and no
    other day of anyone."""
    (spike,) = _planted(planted_org)
    with duckdb.connect(str(planted_org.serving_database), read_only=True) as connection:
        rows = connection.execute(ANOMALIES).fetchall()
    flagged = {(kind, subject, day): rest for kind, subject, day, *rest in rows}
    person = ("user", spike["user_account_id"], spike["usage_date"])
    team = ("team", spike["team_name"], spike["usage_date"])
    assert set(flagged) == {person, team}

    team_name, cost, median, excess, model, tool, session, session_cost, history = flagged[person]
    assert team_name == spike["team_name"]
    assert abs(cost - Decimal(spike["cost_usd"])) < Decimal("0.000001")
    assert cost > 10 * median and excess == cost - median
    assert history >= 7
    assert model == spike["model"] == "claude-opus-4-1"
    assert tool is not None and tool != "(model)"
    assert session is not None and session_cost > cost / 2  # the one long session
    # The team's day has the same drivers: the spike dominates it.
    assert flagged[team][4] == model and flagged[team][6] == session


def test_the_marts_still_match_the_ground_truth(planted_org: BuiltOrganisation) -> None:
    """The spike's events are counted like any others, and verify sees it flagged."""
    start = date.fromordinal(PLANTED_ORG["end_date"].toordinal() - PLANTED_ORG["days"] + 1)
    assert (
        mart_mismatches(
            planted_org.serving_database, planted_org.ground_truth, activities_since=start
        )
        == []
    )


def test_a_flat_organisation_has_no_anomalies(tmp_path_factory: pytest.TempPathFactory) -> None:
    """GIVEN the same organisation without the spike, THEN nothing is flagged."""
    flat = build_organisation_warehouse(
        tmp_path_factory.mktemp("flat_org"), **PLANTED_ORG, plant_anomaly=False
    )
    assert _planted(flat) == []
    with duckdb.connect(str(flat.serving_database), read_only=True) as connection:
        assert connection.execute(ANOMALIES).fetchall() == []
        # The rule had enough history to judge: most person-days were judged.
        (judged_days,) = connection.execute(
            "select count(*) from marts.fct_cost_daily where activity_date >= ?",
            [date(2026, 2, 26)],
        ).fetchone()
    assert judged_days > 100
