"""A short cost summary read from the serving database."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class CostSummary:
    """Headline figures over everything in `marts.fct_cost_daily`."""

    first_date: str | None
    last_date: str | None
    users: int
    sessions: int
    prompts: int
    api_requests: int
    total_cost_usd: Decimal
    top_users: list[tuple[str, Decimal]]  # (user_key, cost), highest first
    daily: list[tuple[str, Decimal]]  # (date, cost), oldest first


def cost_summary(serving_database: Path, top: int = 5) -> CostSummary:
    """Read the summary from a published serving database, read-only."""
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        first, last, users, sessions, prompts, requests, total = connection.execute(
            """
            select min(usage_date)::varchar, max(usage_date)::varchar, count(distinct user_key),
                   coalesce(sum(sessions), 0), coalesce(sum(prompts), 0),
                   coalesce(sum(api_requests), 0), coalesce(sum(cost_usd), 0)
            from marts.fct_cost_daily
            """
        ).fetchone()
        top_users = connection.execute(
            "select user_key, sum(cost_usd) as cost from marts.fct_cost_daily"
            " group by user_key order by cost desc, user_key limit ?",
            [top],
        ).fetchall()
        daily = connection.execute(
            "select usage_date::varchar, sum(cost_usd)"
            " from marts.fct_cost_daily group by 1 order by 1"
        ).fetchall()
    return CostSummary(
        first,
        last,
        users,
        int(sessions),
        int(prompts),
        int(requests),
        Decimal(total),
        top_users,
        daily,
    )
