"""The billed view equals the generator's ground truth except for the planted differences.

Each planted difference is checked against an independent reading of the ground-truth CSVs,
so that a later mart can rely on `billing_planted.json` and `billing_daily.csv` exactly.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from simulation.billing import BillingData, nano_of, usd_of
from simulation.generate import GenerationResult, generate

KINDS = {
    "lost_telemetry",
    "web_search",
    "restated_day",
    "subscription_user_absent",
    "claude_code_estimate",
}


@pytest.fixture(scope="module")
def billing(small_org: GenerationResult) -> BillingData:
    return BillingData.load(Path(small_org.output_dir))


def _reported(small_org: GenerationResult) -> dict[tuple[str, str, str], int]:
    path = Path(small_org.output_dir) / "ground_truth" / "user_model_daily.csv"
    with path.open(newline="") as handle:
        return {
            (row["usage_date"], row["user_account_id"], row["model"]): nano_of(row["cost_usd"])
            for row in csv.DictReader(handle)
        }


def test_every_difference_is_planted_and_the_view_is_deterministic(
    billing: BillingData, small_org: GenerationResult
) -> None:
    assert {planted.kind for planted in billing.planted} == KINDS
    again = BillingData.load(Path(small_org.output_dir))
    assert again.planted == billing.planted
    assert [row.cost_nano for row in again.usage] == [row.cost_nano for row in billing.usage]


def test_billed_tokens_equal_reported_except_the_lost_telemetry(
    billing: BillingData, small_org: GenerationResult
) -> None:
    reported = _reported(small_org)
    (lost,) = [p for p in billing.planted if p.kind == "lost_telemetry"]
    differences = {}
    for row in billing.usage:
        key = (row.day.isoformat(), row.account_id, row.model)
        token_cost = sum(row.token_costs().values())
        if token_cost != reported[key]:
            differences[key] = usd_of(token_cost - reported[key])
    assert differences == {(lost.day.isoformat(), lost.account_id, lost.model): lost.amount_usd}
    assert lost.amount_usd > 0  # billed > reported: telemetry was lost, never invented


def test_web_search_is_billed_and_not_reported(billing: BillingData) -> None:
    searches = {
        (row.day, row.account_id, row.model): row.web_search_requests
        for row in billing.usage
        if row.web_search_requests
    }
    planted = [p for p in billing.planted if p.kind == "web_search"]
    assert {(p.day, p.account_id, p.model): int(p.detail["web_search_requests"]) for p in planted}
    assert searches == {
        (p.day, p.account_id, p.model): int(p.detail["web_search_requests"]) for p in planted
    }
    for planted_search in planted:  # $10 per 1,000 searches (spec §6)
        count = Decimal(planted_search.detail["web_search_requests"])
        assert planted_search.amount_usd == count * Decimal("0.01")


def test_the_restated_day_differs_between_revisions_by_the_planted_amount(
    billing: BillingData,
) -> None:
    (restated,) = [p for p in billing.planted if p.kind == "restated_day"]
    by_revision = [
        {row.key: row.cost_nano for row in billing.rows(revision)} for revision in (0, 1)
    ]
    changed = {key for key in by_revision[1] if by_revision[0][key] != by_revision[1][key]}
    assert changed == {(restated.day, restated.account_id, restated.model)}
    (key,) = changed
    assert usd_of(by_revision[1][key] - by_revision[0][key]) == restated.amount_usd > 0
    assert restated.day < billing.watermark  # a provisional day, not the partial last one
    provisional_at, final_at = billing.refreshed_at
    assert provisional_at < final_at


def test_ground_truth_files_add_up_to_the_planted_differences(
    billing: BillingData, small_org: GenerationResult, tmp_path: Path
) -> None:
    billing.write_ground_truth(tmp_path)
    with (tmp_path / "billing_daily.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = defaultdict(Decimal)
    for row in rows:
        for column in ("reported_cost_usd", "billed_cost_usd", "provisional_billed_cost_usd"):
            total[column] += Decimal(row[column])
    summary = json.loads((tmp_path / "billing_planted.json").read_text())
    planted = defaultdict(Decimal)
    for record in summary["planted"]:
        planted[record["kind"]] += Decimal(record["amount_usd"])
    generation = json.loads(
        (Path(small_org.output_dir) / "ground_truth" / "generation.json").read_text()
    )
    assert total["reported_cost_usd"] == Decimal(generation["total_cost_usd"])
    assert (
        total["billed_cost_usd"] - total["reported_cost_usd"]
        == planted["lost_telemetry"] + planted["web_search"]
    )
    assert (
        total["billed_cost_usd"] - total["provisional_billed_cost_usd"] == planted["restated_day"]
    )
    assert Decimal(summary["billed_total_usd"]) == total["billed_cost_usd"]


def test_one_day_of_usage_never_restates_the_row_that_lost_telemetry(tmp_path: Path) -> None:
    """With a single billed day, the restated row and the lost-telemetry row share the day:
    on one row the two would pull the reconciliation reason opposite ways."""
    # A fixed day: a day ending at "now" can spill into the next UTC day after midnight.
    generated = generate(
        tmp_path,
        seed=3,
        users=4,
        days=1,
        end_date=date(2026, 3, 10),
        claude_code_share=0.5,
        otel=False,
    )
    billing = BillingData.load(Path(generated.output_dir))
    rows = {p.kind: (p.day, p.account_id, p.model) for p in billing.planted}
    assert rows["lost_telemetry"][0] == rows["restated_day"][0]
    assert rows["lost_telemetry"] != rows["restated_day"]
