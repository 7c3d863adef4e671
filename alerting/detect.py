"""Alerts from the published marts (`serving/warehouse.duckdb`, schema `marts`), by SQL.

Budgets: a team over its budget, or forecast to breach it, this month
(`fct_team_cost_monthly`). Anomalies: `fct_cost_anomalies` rows of the last
`lookback_days`. Billed cost: a day and product of the same window whose billed cost
differs from the reported one by more than a share and an amount
(`fct_cost_reconciliation_daily`). Security: `fct_security_signals` of severity `high` in
the same window.
Telemetry: a source silent for `silent_after_days`, or whose latest day has too many
records missing (sequence gaps) or with unknown event names (`fct_telemetry_health`).

The window keeps a first run (or a new webhook) from replaying months of history; the store
keeps every alert to one delivery. Only mart columns are read: no mart holds prompt text,
and `fct_security_signals` never repeats a secret. People appear as the serving file names
them: e-mail under `standard`, a pseudonym under `strict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from alerting.alerts import Alert, AlertKind, Severity
from configuration.settings import Settings
from reporting.figures import REASONS


@dataclass(frozen=True)
class DetectionSettings:
    """How far back and how strict detection is (environment variables in brackets).

    Attributes:
        lookback_days: anomalies and security signals of the last this many days
            (`COWORK_ALERT_LOOKBACK_DAYS`, default 3).
        silent_after_days: a source with no events for more days than this is silent
            (`COWORK_ALERT_SILENT_DAYS`, default 2: a weekend is not an outage).
        max_share_sequence_gaps: largest acceptable share of records missing on a source's
            latest day (default 0.01, as the telemetry-health check).
        max_share_unknown_event_names: the same for unknown event names (default 0.01).
        min_events: a day with fewer events is not judged degraded (default 50).
        billed_divergence_ratio: billed and reported cost of a day and product diverge when
            they differ by more than this share of the reported cost
            (`COWORK_ALERT_BILLED_DIVERGENCE_PERCENT` / 100, default 0.05)...
        billed_divergence_usd: ...and by more than this many dollars
            (`COWORK_ALERT_BILLED_DIVERGENCE_USD`, default 10).
    """

    lookback_days: int = 3
    silent_after_days: int = 2
    max_share_sequence_gaps: float = 0.01
    max_share_unknown_event_names: float = 0.01
    min_events: int = 50
    billed_divergence_ratio: Decimal = Decimal("0.05")
    billed_divergence_usd: Decimal = Decimal(10)

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectionSettings:
        """The windows of the product's settings, the thresholds' defaults."""
        return cls(
            lookback_days=settings.alert_lookback_days,
            silent_after_days=settings.alert_silent_days,
            billed_divergence_ratio=settings.alert_billed_divergence_percent / 100,
            billed_divergence_usd=settings.alert_billed_divergence_usd,
        )


def _money(value: Decimal | float | None) -> str:
    return "n/a" if value is None else f"${Decimal(value):,.2f}"


def report_link(serving_database: Path, month: date) -> str:
    """The cost report of a month: `serving/reports/cost-<YYYY-MM>.html`."""
    return str(serving_database.parent / "reports" / f"cost-{month:%Y-%m}.html")


_BUDGETS = """
select team_name, month, as_of_date, budget_usd, spend_usd, forecast_usd,
       projected_breach_date, is_over_budget
from marts.fct_team_cost_monthly
where month = ? and budget_usd is not null and (is_over_budget or is_forecast_over_budget)
order by team_name
"""


def budget_alerts(connection, serving_database: Path, today: date) -> list[Alert]:
    """A team over its budget this month (high), or forecast to breach it (medium).

    Over supersedes forecast: a team that is already over gets the `over` alert only; a
    team forecast first and over later gets both, days apart.
    """
    alerts = []
    for team, month, as_of, budget, spend, forecast, breach, over in connection.execute(
        _BUDGETS, [today.replace(day=1)]
    ).fetchall():
        state = "over" if over else "forecast"
        fields = (
            ("Team", team),
            ("Month", f"{month:%Y-%m}"),
            ("Budget", _money(budget)),
            ("Spent so far", f"{_money(spend)} (to {as_of})"),
            ("Month-end forecast", _money(forecast)),
            ("Projected breach", str(breach) if breach else "n/a"),
        )
        if over:
            title = f"Budget exceeded: {team} spent {_money(spend)} of {_money(budget)}"
            text = (
                f"{team} is over its {month:%B %Y} budget by {_money(spend - budget)}; "
                f"the month is forecast to end at {_money(forecast)}."
            )
        else:
            title = f"Budget at risk: {team} forecast {_money(forecast)} of {_money(budget)}"
            text = (
                f"{team} has spent {_money(spend)} of its {_money(budget)} budget for "
                f"{month:%B %Y} and is forecast to pass it on {breach}."
            )
        alerts.append(
            Alert(
                AlertKind.BUDGET,
                f"budget:{team}:{month:%Y-%m}:{state}",
                Severity.HIGH if over else Severity.MEDIUM,
                title,
                text,
                fields,
                report_link(serving_database, month),
                "Cost report",
            )
        )
    return alerts


_ANOMALIES = """
select a.cost_anomaly_id, a.subject_kind, a.team_name, a.activity_date,
       coalesce(u.user_email, a.user_key) as person,
       a.cost_usd, a.baseline_median_usd, a.excess_usd, a.robust_z_score,
       a.top_model, a.top_model_cost_usd, a.top_tool, a.top_tool_cost_usd,
       a.top_session_id, a.top_session_cost_usd
from marts.fct_cost_anomalies as a
left join marts.dim_users as u on a.user_key = u.user_key
where a.activity_date >= ?
order by a.activity_date, a.cost_anomaly_id
"""


def anomaly_alerts(connection, serving_database: Path, since: date) -> list[Alert]:
    """One alert per `fct_cost_anomalies` row since `since`, with the day's drivers."""
    alerts = []
    for row in connection.execute(_ANOMALIES, [since]).fetchall():
        (anomaly_id, kind, team, day, person, cost, median, excess, z_score) = row[:9]
        model, model_cost, tool, tool_cost, session, session_cost = row[9:]
        who = person if kind == "user" else f"team {team}"
        times = f"{Decimal(cost) / Decimal(median):,.0f} times" if median else "far above"
        fields = [("Who", who if kind == "user" else team)]
        if kind == "user":
            fields.append(("Team", team))
        fields += [
            ("Day", str(day)),
            ("Cost", f"{_money(cost)} (usual {_money(median)})"),
            ("Excess", _money(excess) + (f", robust z {z_score}" if z_score is not None else "")),
            ("Top model", f"{model} ({_money(model_cost)})" if model else "n/a"),
            ("Top tool", f"{tool} ({_money(tool_cost)})" if tool else "n/a"),
            ("Top session", f"{session} ({_money(session_cost)})" if session else "n/a"),
        ]
        alerts.append(
            Alert(
                AlertKind.ANOMALY,
                f"anomaly:{anomaly_id}",
                Severity.HIGH,
                f"Cost anomaly: {'a person' if kind == 'user' else 'team ' + team} spent "
                f"{_money(cost)} on {day}",
                f"{who} spent {_money(cost)} on {day}, {times} the usual "
                f"{_money(median)}; driven by {model or 'unknown model'}"
                + (f" and {tool}" if tool else "")
                + ".",
                tuple(fields),
                report_link(serving_database, day.replace(day=1)),
                "Cost report",
            )
        )
    return alerts


_SECURITY = """
select s.signal_id, s.signal_type, coalesce(u.user_email, s.user_key) as person,
       s.detected_at, s.activity_date, s.tool_name, s.target, s.evidence
from marts.fct_security_signals as s
left join marts.dim_users as u on s.user_key = u.user_key
where s.severity = 'high' and s.activity_date >= ?
order by s.detected_at, s.signal_id
"""


def security_alerts(connection, since: date) -> list[Alert]:
    """One alert per high-severity security signal since `since`."""
    alerts = []
    for signal_id, signal_type, person, at, _day, tool, target, evidence in connection.execute(
        _SECURITY, [since]
    ).fetchall():
        label = signal_type.replace("_", " ")
        fields = [("Who", person or "unknown"), ("When", f"{at:%Y-%m-%d %H:%M} UTC")]
        if tool:
            fields.append(("Tool", tool))
        if target:
            fields.append(("Target", target))
        fields.append(("Signal", signal_id))
        alerts.append(
            Alert(
                AlertKind.SECURITY,
                f"security:{signal_id}",
                Severity.HIGH,
                f"Security: {label}" + (f" ({target})" if target else ""),
                f"{evidence}. Review it in marts.fct_security_signals (signal_id {signal_id}).",
                tuple(fields),
            )
        )
    return alerts


# Per day and product; the legacy report's days compare all products at once ("(all)"),
# and the part of a bill its breakdown leaves out ("(unattributed)") has no product.
_BILLED = """
select cost_date, product, sum(reported_cost_usd), sum(billed_cost_usd),
       string_agg(distinct reason, ', ' order by reason), bool_or(is_provisional)
from marts.fct_cost_reconciliation_daily
where cost_date >= ? and billed_cost_usd is not null and product <> '(unattributed)'
group by cost_date, product
order by cost_date, product
"""


def billed_cost_alerts(connection, since: date, settings: DetectionSettings) -> list[Alert]:
    """A day and product whose billed cost diverges from the reported one (both thresholds)."""
    alerts = []
    for day, product, reported, billed, reasons, provisional in connection.execute(
        _BILLED, [since]
    ).fetchall():
        difference = billed - reported
        if abs(difference) <= settings.billed_divergence_usd or abs(
            difference
        ) <= settings.billed_divergence_ratio * abs(reported):
            continue
        named = "all products" if product == "(all)" else product
        share = f" ({difference / reported:+.1%})" if reported else ""
        known = [REASONS[reason] for reason in (reasons or "").split(", ") if reason in REASONS]
        alerts.append(
            Alert(
                AlertKind.BILLING,
                f"billing:{day}:{product}",
                Severity.MEDIUM if provisional else Severity.HIGH,
                f"Billed cost differs from reported: {named} on {day}",
                f"Anthropic bills {_money(billed)} for {named} on {day}; telemetry reported "
                f"{_money(reported)}{share}. "
                + (
                    f"Known reason: {'; '.join(known)}. "
                    if known
                    else "No known reason: check the collector and the billing pull. "
                )
                + "See marts.fct_cost_reconciliation_daily.",
                (
                    ("Day", str(day)),
                    ("Product", named),
                    ("Billed", _money(billed)),
                    ("Reported", _money(reported)),
                    ("Difference", _money(difference) + share),
                    ("Bill", "provisional" if provisional else "settled"),
                ),
            )
        )
    return alerts


_LATEST_HEALTH = """
with ranked as (
    select *, row_number() over (partition by source order by activity_date desc) as recency
    from marts.fct_telemetry_health
    where events > 0
)
select source, activity_date, events, sequence_gap_events, unknown_event_names
from ranked
where recency = 1
order by source
"""


def telemetry_alerts(connection, today: date, settings: DetectionSettings) -> list[Alert]:
    """A source silent for more than `silent_after_days`, or degraded on its latest day.

    The quarantine rate is not in the marts: its `quarantine_rate` check fails (ERROR above
    5 %) and arrives as a `check_failed` alert; freshness past 24 h likewise.
    """
    alerts = []
    for source, last_day, events, gaps, unknown in connection.execute(_LATEST_HEALTH).fetchall():
        silent_days = (today - last_day).days
        if silent_days > settings.silent_after_days:
            alerts.append(
                Alert(
                    AlertKind.TELEMETRY,
                    f"telemetry:{source}:{last_day}:silent",
                    Severity.HIGH,
                    f"Telemetry silent: {source} has sent nothing for {silent_days} days",
                    f"The last {source} events are from {last_day}. Check the collector (or "
                    "the Compliance key) and the pipeline's landing step.",
                    (("Source", source), ("Last day with events", str(last_day))),
                )
            )
            continue
        problems = []
        sent = events + gaps
        if events >= settings.min_events:
            if gaps / sent > settings.max_share_sequence_gaps:
                problems.append(f"{gaps / sent:.1%} of records missing (sequence gaps)")
            if unknown / events > settings.max_share_unknown_event_names:
                problems.append(f"{unknown / events:.1%} of events with unknown names")
        if problems:
            alerts.append(
                Alert(
                    AlertKind.TELEMETRY,
                    f"telemetry:{source}:{last_day}:degraded",
                    Severity.MEDIUM,
                    f"Telemetry degraded: {source} on {last_day}",
                    f"{source} on {last_day}: " + "; ".join(problems) + ".",
                    (
                        ("Source", source),
                        ("Day", str(last_day)),
                        ("Events", f"{events:,}"),
                        ("Missing records", f"{gaps:,}"),
                        ("Unknown event names", f"{unknown:,}"),
                    ),
                )
            )
    return alerts


def detect_alerts(
    serving_database: Path, now: datetime, settings: DetectionSettings | None = None
) -> list[Alert]:
    """Every alert the published marts call for now (none before the first publish).

    Args:
        serving_database: the published DuckDB file (opened read-only).
        now: the current time (UTC); tests pass the simulated period's end.
        settings: windows and thresholds; the defaults when None.
    """
    settings = settings or DetectionSettings()
    if not serving_database.exists():
        return []
    today = now.date()
    since = today - timedelta(days=settings.lookback_days)
    with duckdb.connect(str(serving_database), read_only=True) as connection:
        return [
            *budget_alerts(connection, serving_database, today),
            *anomaly_alerts(connection, serving_database, since),
            *security_alerts(connection, since),
            *billed_cost_alerts(connection, since, settings),
            *telemetry_alerts(connection, today, settings),
        ]
