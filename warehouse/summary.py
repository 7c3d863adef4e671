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
    """Read the summary from a published serving database, read-only.

    Top users are named by account id (or their user_key when they have none), never by
    e-mail: the summary is printed to terminals and logs.
    """
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        first, last, users, prompts, requests, total = connection.execute(
            """
            select min(activity_date)::varchar, max(activity_date)::varchar,
                   count(distinct user_key) filter (where api_requests > 0),
                   coalesce(sum(prompts), 0), coalesce(sum(api_requests), 0),
                   coalesce(sum(cost_usd), 0)
            from marts.fct_user_daily_activity
            """
        ).fetchone()
        (sessions,) = connection.execute("select count(*) from marts.fct_sessions").fetchone()
        top_users = connection.execute(
            """
            select coalesce(users.user_account_id, activity.user_key), sum(activity.cost_usd)
            from marts.fct_user_daily_activity as activity
            left join marts.dim_users as users on activity.user_key = users.user_key
            group by 1 order by 2 desc, 1 limit ?
            """,
            [top],
        ).fetchall()
        daily = connection.execute(
            "select activity_date::varchar, sum(cost_usd)"
            " from marts.fct_user_daily_activity group by 1 order by 1"
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
