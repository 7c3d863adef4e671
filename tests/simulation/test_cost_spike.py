"""The planted cost spike: one ordinary person, one day, many times their usual spend."""

from __future__ import annotations

import csv
import random
import statistics
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from simulation.generate import GenerationResult, generate
from simulation.ground_truth import COMPLIANCE_COUNTS
from simulation.organisation import (
    COST_SPIKE_MIN_DAYS,
    COST_SPIKE_MODEL,
    QUIRK_MIN_PEOPLE,
    build_organisation,
    plant_cost_spike,
    plant_quirks,
)

SPIKED = {"seed": 5, "users": 8, "days": COST_SPIKE_MIN_DAYS, "end_date": date(2026, 3, 14)}


def _truth(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / "ground_truth" / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_a_long_enough_period_gets_one_spike_recorded_in_the_ground_truth(tmp_path: Path) -> None:
    generate(tmp_path, **SPIKED)
    (spike,) = _truth(tmp_path, "planted_anomalies")
    assert spike["usage_date"] == "2026-03-13"  # the period's second-to-last day
    assert spike["model"] == COST_SPIKE_MODEL
    (person,) = [u for u in _truth(tmp_path, "users") if "cost_spike_on_" in u["quirks"]]
    assert person["user_account_id"] == spike["user_account_id"]
    assert person["quirks"] == "cost_spike_on_2026-03-13"

    daily = {
        row["usage_date"]: Decimal(row["cost_usd"])
        for row in _truth(tmp_path, "user_daily")
        if row["user_account_id"] == spike["user_account_id"]
    }
    assert daily[spike["usage_date"]] == Decimal(spike["cost_usd"])
    usual = statistics.median(cost for day, cost in daily.items() if day != spike["usage_date"])
    assert Decimal(spike["cost_usd"]) > 10 * usual
    # They worked every day before it, so the warehouse has a baseline to judge it by.
    start = date(2026, 3, 1)
    assert all((start + timedelta(days=n)).isoformat() in daily for n in range(12))
    # The spike's model carries most of that day's cost.
    by_model = defaultdict(Decimal)
    for row in _truth(tmp_path, "user_model_daily"):
        if (row["user_account_id"], row["usage_date"]) == (
            spike["user_account_id"],
            spike["usage_date"],
        ):
            by_model[row["model"]] += Decimal(row["cost_usd"])
    assert max(by_model, key=by_model.get) == COST_SPIKE_MODEL


def test_short_periods_and_the_opt_out_plant_nothing(
    small_org: GenerationResult, tmp_path: Path
) -> None:
    assert _truth(Path(small_org.output_dir), "planted_anomalies") == []
    generate(tmp_path, **SPIKED, plant_anomaly=False)
    assert _truth(tmp_path, "planted_anomalies") == []
    assert not any("cost_spike" in u["quirks"] for u in _truth(tmp_path, "users"))


def test_the_spike_goes_to_an_ordinary_person() -> None:
    organisation = build_organisation(random.Random(3), 30, 0.5)
    plant_quirks(organisation, random.Random(4), date(2026, 3, 1), 21)
    person = plant_cost_spike(organisation, random.Random(5), date(2026, 3, 1), 21)
    assert person is not None and person.cost_spike_on == date(2026, 3, 20)
    assert person is not organisation.people[0]  # never the admin
    assert not person.has_quirk and person.model_mix == "default" and person.activity <= 3.0
    assert person.works_every_day
    assert [p for p in organisation.people if p.cost_spike_on] == [person]
    assert len(organisation.people) >= QUIRK_MIN_PEOPLE


def test_the_spike_leaves_everyone_else_as_they_were(tmp_path: Path) -> None:
    """Planting draws from its own random stream: other people's telemetry does not change.

    (Their Compliance activity counts may: the Compliance side draws from one stream for the
    whole organisation, which the spike person's extra work days advance.)
    """
    generate(tmp_path / "with", **SPIKED)
    generate(tmp_path / "without", **SPIKED, plant_anomaly=False)
    (spike,) = _truth(tmp_path / "with", "planted_anomalies")

    def others(folder: Path) -> list[dict[str, str]]:
        return [
            {column: row[column] for column in row if column not in COMPLIANCE_COUNTS}
            for row in _truth(folder, "user_daily")
            if row["user_account_id"] != spike["user_account_id"]
        ]

    assert others(tmp_path / "with") == others(tmp_path / "without")
