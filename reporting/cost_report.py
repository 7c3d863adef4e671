"""The cost report's figures, read from the published marts (read-only) for one period.

Every number is the result of SQL on the `marts` schema of the serving database; this
module only fills days without cost with zero and divides (per prompt, per user, shares).
People are labelled as the serving file allows: under privacy `strict` the file holds
keyed pseudonyms, and the label is the person's pseudonymous `user_key`; under `standard`
it is their e-mail from `dim_users` (else their name, else their account id). No prompt
text is read: no mart holds any.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from configuration.settings import PrivacyMode
from reporting.figures import (
    Amount,
    Anomaly,
    Billed,
    BilledLine,
    CostReport,
    DailyCost,
    Reconciliation,
    SourceHealth,
    TeamBudget,
    TopUser,
)
from reporting.periods import Period, day_range, month_of

ZERO = Decimal(0)
TOP_USERS = 10
NO_TEAM = "(no team)"
PRODUCTS = (("cowork_cost_usd", "Cowork"), ("claude_code_cost_usd", "Claude Code"))
# The comment `warehouse.publish` gives every published table names the privacy mode.
_PRIVACY_MARKER = re.compile(r"cowork-analytics privacy (\w+)")


def serving_privacy(connection: duckdb.DuckDBPyConnection) -> str:
    """The privacy mode the serving file was published under (its tables' comment).

    A file that does not say (published before the mode was recorded) is read as `strict`:
    the report then shows pseudonyms, never an e-mail address it was not sure it may show.
    """
    row = connection.execute(
        "select comment from duckdb_tables()"
        " where schema_name = 'marts' and table_name = 'dim_users'"
    ).fetchone()
    match = _PRIVACY_MARKER.search(row[0] or "") if row else None
    if match:
        return match[1]
    return PrivacyMode.STRICT.value


def person_label(
    privacy: str,
    user_key: str,
    email: str | None,
    name: str | None,
    account_id: str | None,
) -> str:
    """How a person is named in the report under a privacy mode."""
    if privacy == "strict":
        return user_key  # the serving file's keyed pseudonym
    return email or name or account_id or f"unidentified person {user_key[:8]}"


def build_cost_report(
    serving_database: Path,
    period: Period,
    *,
    top_users: int = TOP_USERS,
    now: datetime | None = None,
) -> CostReport:
    """Read the cost report's figures for `period` from the serving database, read-only.

    Args:
        serving_database: the published DuckDB file (schema `marts`).
        period: the month or week reported on.
        top_users: how many of the biggest spenders to list.
        now: when the report is made (default: now, UTC).

    Returns:
        The figures; a period without data gives zeros and says so in its caveats.
    """
    previous = period.previous()
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        privacy = serving_privacy(connection)
        (data_last_day,) = connection.execute(
            "select max(activity_date) from marts.fct_cost_daily"
        ).fetchone()
        daily = _daily(connection, period, data_last_day)
        previous_daily = _daily(connection, previous, data_last_day)
        totals = _totals(connection, period.start, period.end)
        comparison_end = previous.end
        if daily and len(daily) < period.days:
            comparison_end = min(previous.end, previous.start + timedelta(days=len(daily) - 1))
        comparison = _totals(connection, previous.start, comparison_end)
        # The month whose budgets matter: the period's, or for a week the month its data
        # reaches (a week spanning two months shows the later one once it has data).
        budget_month = month_of(
            period.end
            if data_last_day is None or data_last_day >= period.end
            else max(period.start, data_last_day)
        )
        report = CostReport(
            period=period,
            previous_period=previous,
            generated_at=(now or datetime.now(UTC)).replace(microsecond=0),
            privacy=privacy,
            data_last_day=data_last_day,
            total_usd=totals["cost_usd"],
            previous_total_usd=sum((day.cost_usd for day in previous_daily), start=ZERO),
            comparison_start=previous.start,
            comparison_end=comparison_end,
            comparison_usd=comparison["cost_usd"],
            comparison_prompts=comparison["prompts"],
            comparison_active_users=comparison["active_users"],
            daily=daily,
            previous_daily=previous_daily,
            by_team=_amounts(connection, period, f"coalesce(team_name, '{NO_TEAM}')"),
            by_model=_amounts(connection, period, "model"),
            by_product=_products(connection, period),
            top_users=_top_users(connection, period, privacy, top_users),
            prompts=totals["prompts"],
            active_users=totals["active_users"],
            cache_savings_usd=totals["cache_savings_usd"],
            cache_read_tokens=totals["cache_read_tokens"],
            input_tokens_total=totals["input_tokens_total"],
            reconciliation=_reconciliation(connection, period),
            budget_month=budget_month,
            budgets=_budgets(connection, budget_month),
            anomalies=_anomalies(connection, period, privacy),
            health=_health(connection, period),
        )
    report.caveats.extend(caveats(report))
    return report


def _daily(
    connection: duckdb.DuckDBPyConnection, period: Period, data_last_day: date | None
) -> list[DailyCost]:
    """Every day of `period` up to the data's last day, days without cost as zero."""
    costs = dict(
        connection.execute(
            "select activity_date, sum(cost_usd) from marts.fct_cost_daily"
            " where activity_date between ? and ? group by activity_date",
            [period.start, period.end],
        ).fetchall()
    )
    if data_last_day is None:
        return []
    return [DailyCost(day, costs.get(day, ZERO)) for day in period.dates() if day <= data_last_day]


def _totals(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> dict:
    cost, users, savings, cache_read, input_total = connection.execute(
        """
        select
            coalesce(sum(cost_usd), 0),
            count(distinct case when cost_usd > 0 then user_key end),
            coalesce(sum(cache_savings_usd), 0),
            coalesce(sum(cache_read_tokens), 0),
            coalesce(sum(input_tokens + cache_read_tokens + cache_creation_tokens), 0)
        from marts.fct_cost_daily
        where activity_date between ? and ?
        """,
        [start, end],
    ).fetchone()
    (prompts,) = connection.execute(
        "select coalesce(sum(prompts), 0) from marts.fct_user_daily_activity"
        " where activity_date between ? and ?",
        [start, end],
    ).fetchone()
    return {
        "cost_usd": Decimal(cost),
        "active_users": int(users),
        "cache_savings_usd": Decimal(savings),
        "cache_read_tokens": int(cache_read),
        "input_tokens_total": int(input_total),
        "prompts": int(prompts),
    }


def _amounts(
    connection: duckdb.DuckDBPyConnection, period: Period, expression: str
) -> list[Amount]:
    """Spend of the period grouped by a `fct_cost_daily` expression, largest first."""
    rows = connection.execute(
        f"select {expression} as label, sum(cost_usd) as cost_usd from marts.fct_cost_daily"
        " where activity_date between ? and ? group by label order by cost_usd desc, label",
        [period.start, period.end],
    ).fetchall()
    return [Amount(label, cost) for label, cost in rows]


def _products(connection: duckdb.DuckDBPyConnection, period: Period) -> list[Amount]:
    """Spend by product; `Other` holds streams that are neither (when there are any)."""
    columns = ", ".join(f"coalesce(sum({column}), 0)" for column, _ in PRODUCTS)
    row = connection.execute(
        f"select coalesce(sum(cost_usd), 0), {columns} from marts.fct_user_daily_activity"
        " where activity_date between ? and ?",
        [period.start, period.end],
    ).fetchone()
    total, *by_product = row
    amounts = [Amount(label, cost) for (_, label), cost in zip(PRODUCTS, by_product, strict=True)]
    other = total - sum(by_product, start=ZERO)
    if other:
        amounts.append(Amount("Other", other))
    return sorted(amounts, key=lambda amount: -amount.cost_usd)


def _top_users(
    connection: duckdb.DuckDBPyConnection, period: Period, privacy: str, limit: int
) -> list[TopUser]:
    rows = connection.execute(
        f"""
        with spend as (
            select
                user_key,
                sum(cost_usd) as cost_usd,
                count(distinct activity_date) as active_days,
                arg_max(coalesce(team_name, '{NO_TEAM}'), activity_date) as team_name
            from marts.fct_cost_daily
            where activity_date between ? and ?
            group by user_key
        ),
        prompts as (
            select user_key, sum(prompts) as prompts
            from marts.fct_user_daily_activity
            where activity_date between ? and ?
            group by user_key
        )
        select
            spend.user_key, users.user_email, users.full_name, users.user_account_id,
            spend.team_name, spend.cost_usd, coalesce(prompts.prompts, 0), spend.active_days
        from spend
        left join prompts on spend.user_key = prompts.user_key
        left join marts.dim_users as users on spend.user_key = users.user_key
        order by spend.cost_usd desc, spend.user_key
        limit ?
        """,
        [period.start, period.end, period.start, period.end, limit],
    ).fetchall()
    return [
        TopUser(
            label=person_label(privacy, key, email, name, account),
            user_key=key,
            team_name=team,
            cost_usd=cost,
            prompts=int(prompts),
            active_days=int(days),
        )
        for key, email, name, account, team, cost, prompts, days in rows
    ]


def _reconciliation(connection: duckdb.DuckDBPyConnection, period: Period) -> Reconciliation:
    reported, recomputed, priced, unpriced = connection.execute(
        """
        select
            coalesce(sum(cost_usd), 0),
            coalesce(sum(recomputed_cost_usd) filter (where is_priced), 0),
            coalesce(sum(cost_usd) filter (where is_priced), 0),
            coalesce(sum(cost_usd) filter (where not is_priced), 0)
        from marts.fct_cost_daily
        where activity_date between ? and ?
        """,
        [period.start, period.end],
    ).fetchone()
    return Reconciliation(reported, recomputed, priced, unpriced, _billed(connection, period))


def _billed(connection: duckdb.DuckDBPyConnection, period: Period) -> Billed | None:
    """The bill of the period's covered days, None when no billing pull covered any."""
    window = [period.start, period.end]
    (sources,) = connection.execute(
        "select list(distinct billed_source order by billed_source)"
        " from marts.fct_billed_cost_daily where cost_date between ? and ?",
        window,
    ).fetchone()
    days, billed, reported, unbilled, provisional = connection.execute(
        """
        select
            count(distinct cost_date) filter (where billed_cost_usd is not null),
            coalesce(sum(billed_cost_usd), 0),
            coalesce(sum(reported_cost_usd) filter (where billed_cost_usd is not null), 0),
            count(distinct cost_date) filter (where reason = 'no_billed_figure'),
            count(distinct cost_date) filter (where is_provisional and billed_cost_usd is not null)
        from marts.fct_cost_reconciliation_daily
        where cost_date between ? and ?
        """,
        window,
    ).fetchone()
    if not days:
        return None
    explained = connection.execute(
        """
        select reason, sum(difference_usd)
        from marts.fct_cost_reconciliation_daily
        where cost_date between ? and ? and billed_cost_usd is not null and reason is not null
        group by reason
        order by abs(sum(difference_usd)) desc, reason
        """,
        window,
    ).fetchall()
    lines = connection.execute(
        """
        select
            product, model, sum(reported_cost_usd), sum(recomputed_cost_usd),
            sum(billed_cost_usd), sum(claude_code_estimated_cost_usd),
            list(distinct reason order by reason) filter (where reason is not null)
        from marts.fct_cost_reconciliation_daily
        where cost_date between ? and ? and billed_cost_usd is not null
        group by product, model
        order by sum(billed_cost_usd) desc, product, model
        """,
        window,
    ).fetchall()
    return Billed(
        sources=tuple(sources or ()),
        billed_usd=billed,
        reported_usd=reported,
        days=days,
        unbilled_days=unbilled,
        provisional_days=provisional,
        explained=tuple(Amount(reason, amount) for reason, amount in explained),
        lines=tuple(
            BilledLine(product, model, rep, recomputed, bill, estimate, tuple(reasons or ()))
            for product, model, rep, recomputed, bill, estimate, reasons in lines
        ),
    )


def _budgets(connection: duckdb.DuckDBPyConnection, month: Period) -> list[TeamBudget]:
    rows = connection.execute(
        """
        select
            team_name, month, as_of_date, budget_usd, spend_usd, forecast_usd,
            projected_breach_date, is_over_budget, is_forecast_over_budget
        from marts.fct_team_cost_monthly
        where month = ?
        order by coalesce(forecast_usd / nullif(budget_usd, 0), 0) desc, team_name
        """,
        [month.start],
    ).fetchall()
    return [TeamBudget(*row) for row in rows]


def _anomalies(
    connection: duckdb.DuckDBPyConnection, period: Period, privacy: str
) -> list[Anomaly]:
    rows = connection.execute(
        """
        select
            anomalies.subject_kind, anomalies.user_key, users.user_email, users.full_name,
            users.user_account_id, anomalies.team_name, anomalies.activity_date,
            anomalies.cost_usd, anomalies.baseline_median_usd, anomalies.excess_usd,
            anomalies.robust_z_score, anomalies.top_model, anomalies.top_tool,
            anomalies.top_session_id
        from marts.fct_cost_anomalies as anomalies
        left join marts.dim_users as users on anomalies.user_key = users.user_key
        where anomalies.activity_date between ? and ?
        order by anomalies.excess_usd desc, anomalies.cost_anomaly_id
        """,
        [period.start, period.end],
    ).fetchall()
    anomalies = []
    for kind, key, email, name, account, team, *figures in rows:
        label = person_label(privacy, key, email, name, account) if kind == "user" else team
        anomalies.append(Anomaly(kind, label, team, *figures))
    return anomalies


def _health(connection: duckdb.DuckDBPyConnection, period: Period) -> list[SourceHealth]:
    rows = connection.execute(
        """
        select
            source, count(*), sum(events), sum(events_without_email),
            sum(events_without_account), sum(sequence_gap_events), sum(duplicate_deliveries),
            sum(late_arrivals), sum(unknown_event_names)
        from marts.fct_telemetry_health
        where activity_date between ? and ?
        group by source
        order by source
        """,
        [period.start, period.end],
    ).fetchall()
    return [SourceHealth(row[0], *(int(value or 0) for value in row[1:])) for row in rows]


def caveats(report: CostReport) -> list[str]:
    """What a reader should know about how complete and exact the numbers are."""
    notes = []
    period = report.period
    if report.data_last_day is None or not report.daily:
        notes.append(f"No cost has been recorded for {period.title} yet.")
    elif not report.is_complete:
        notes.append(
            f"The {period.kind} is not over: figures run to {report.daily[-1].day:%-d %b %Y};"
            f" the change is against the same days of the previous {period.kind}."
        )
    otel = [source for source in report.health if source.source.startswith("otel:")]
    events = sum(source.events for source in otel)
    if events:
        without_email = sum(source.events_without_email for source in otel)
        without_account = sum(source.events_without_account for source in otel)
        if without_email:
            notes.append(
                f"{without_email / events:.1%} of telemetry events ({without_email:,}) carried"
                " no e-mail; they are attributed through the account id, device or"
                " enduser.id instead."
            )
        if without_account:
            notes.append(
                f"{without_account / events:.1%} of telemetry events ({without_account:,})"
                " carried no account id (third-party deployments or anonymous devices)."
            )
        gaps = sum(source.sequence_gap_events for source in otel)
        if gaps:
            notes.append(
                f"{gaps:,} events are missing inside client processes (sequence gaps):"
                " spend may be understated."
            )
        late = sum(source.late_arrivals for source in otel)
        if late:
            notes.append(
                f"{late:,} events landed late: reports made before they arrived showed less."
            )
        unknown = sum(source.unknown_event_names for source in otel)
        if unknown:
            notes.append(f"{unknown:,} events had names the warehouse does not know.")
        quiet = [day.day for day in report.daily if not day.cost_usd]
        if quiet:
            notes.append(
                f"{len(quiet)} day(s) of the period have no cost at all: {_day_ranges(quiet)}."
            )
    elif report.daily:
        notes.append("No telemetry health figures for the period.")
    if not any(source.source == "compliance_api" for source in report.health):
        notes.append(
            "No Compliance API activity for the period: teams and names come from the"
            " telemetry and the last directory pull only."
        )
    reconciliation = report.reconciliation
    billed = reconciliation.billed
    if billed is None:
        notes.append(
            "No billed cost for the period: set ANTHROPIC_ADMIN_API_KEY or"
            " ANTHROPIC_ANALYTICS_API_KEY to pull what Anthropic bills."
        )
    else:
        if billed.unbilled_days:
            notes.append(
                f"{billed.unbilled_days} day(s) with reported cost have no billed figure yet;"
                " the billed total covers the other days only."
            )
        if billed.provisional_days:
            notes.append(
                f"The bill of {billed.provisional_days} day(s) is provisional: Anthropic may"
                " restate it for about 30 days, and every pull replaces those days."
            )
    if reconciliation.unpriced_usd:
        notes.append(
            f"${reconciliation.unpriced_usd:,.2f} was spent on models the price list does not"
            " know; it is not in the recomputed cost."
        )
    if not report.comparison_usd and report.total_usd:
        notes.append(f"No cost in {report.comparison_label} to compare with.")
    return notes


def _day_ranges(days: list[date], shown: int = 4) -> str:
    """Consecutive days as ranges, e.g. `1-13 Nov, 21 Nov` (the first few, then a count)."""
    runs: list[list[date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    text = ", ".join(day_range(run[0], run[-1]) for run in runs[:shown])
    return text + (f" and {len(runs) - shown} more" if len(runs) > shown else "")
