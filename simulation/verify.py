"""Check the cost mart against the generator's ground truth, exactly."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb

COMPARED_COLUMNS = (
    "sessions",
    "prompts",
    "api_requests",
    "api_errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
)


def _normalise(value: object) -> object:
    return Decimal(str(value)) if value is not None else None


def cost_daily_mismatches(serving_database: Path, ground_truth_dir: Path) -> list[str]:
    """Every difference between `marts.fct_cost_daily` and `ground_truth/user_daily.csv`.

    Returns:
        Human-readable differences; empty when the mart matches exactly (cost to the
        nano-dollar, counts and tokens to the unit).
    """
    with (ground_truth_dir / "user_daily.csv").open(newline="") as handle:
        expected = {
            (row["user_account_id"], row["usage_date"]): row for row in csv.DictReader(handle)
        }
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        columns = ", ".join(COMPARED_COLUMNS)
        cursor = connection.execute(
            f"select user_account_id, usage_date::varchar, {columns} from marts.fct_cost_daily"
        )
        actual = {
            (row[0], row[1]): dict(zip(COMPARED_COLUMNS, row[2:], strict=True))
            for row in cursor.fetchall()
        }
    problems = [f"missing from mart: {key}" for key in sorted(expected.keys() - actual.keys())]
    problems += [f"not in ground truth: {key}" for key in sorted(actual.keys() - expected.keys())]
    for key in sorted(expected.keys() & actual.keys()):
        for column in COMPARED_COLUMNS:
            want, got = _normalise(expected[key][column]), _normalise(actual[key][column])
            if want != got:
                problems.append(f"{key} {column}: mart {got} != truth {want}")
    return problems
