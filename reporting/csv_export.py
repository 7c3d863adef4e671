"""The cost report as one tidy CSV: `section,subject,measure,date,value,unit`, a value a row."""

from __future__ import annotations

import csv
import io
from datetime import date

from reporting.figures import CostReport
from reporting.formatting import NO_BILL

CSV_COLUMNS = ("section", "subject", "measure", "date", "value", "unit")


def csv_rows(report: CostReport) -> list[tuple[str, str, str, str, str, str]]:
    """The report as tidy rows: section, subject, measure, date, value, unit."""
    rows: list[tuple[str, str, str, str, str, str]] = []

    def add(
        section: str,
        subject: str,
        measure: str,
        value: object,
        unit: str = "",
        day: date | None = None,
    ) -> None:
        text = "" if value is None else str(value)
        rows.append((section, subject, measure, day.isoformat() if day else "", text, unit))

    period = report.period
    add("period", period.label, "start", period.start.isoformat(), "date")
    add("period", period.label, "end", period.end.isoformat(), "date")
    through = report.daily[-1].day if report.daily else None
    add("period", period.label, "data_through", through, "date")
    add("period", period.label, "privacy", report.privacy)
    for measure, value, unit in (
        ("total_usd", report.total_usd, "usd"),
        ("comparison_usd", report.comparison_usd, "usd"),
        ("comparison_start", report.comparison_start, "date"),
        ("comparison_end", report.comparison_end, "date"),
        ("previous_total_usd", report.previous_total_usd, "usd"),
        ("change_usd", report.change_usd, "usd"),
        ("change_ratio", report.change_ratio, "ratio"),
        ("prompts", report.prompts, "count"),
        ("active_users", report.active_users, "count"),
        ("cost_per_prompt_usd", report.cost_per_prompt_usd, "usd"),
        ("cost_per_active_user_usd", report.cost_per_active_user_usd, "usd"),
        ("cache_savings_usd", report.cache_savings_usd, "usd"),
        ("cache_read_share", report.cache_read_share, "ratio"),
    ):
        add("summary", "", measure, value, unit)
    for day in report.daily:
        add("daily", "", "cost_usd", day.cost_usd, "usd", day.day)
    for day in report.previous_daily:
        add("daily_previous_period", "", "cost_usd", day.cost_usd, "usd", day.day)
    for section, amounts in (
        ("team", report.by_team),
        ("model", report.by_model),
        ("product", report.by_product),
    ):
        for amount in amounts:
            add(section, amount.label, "cost_usd", amount.cost_usd, "usd")
    for rank, user in enumerate(report.top_users, start=1):
        add("top_user", user.label, "rank", rank, "count")
        add("top_user", user.label, "team", user.team_name)
        add("top_user", user.label, "cost_usd", user.cost_usd, "usd")
        add("top_user", user.label, "prompts", user.prompts, "count")
        add("top_user", user.label, "active_days", user.active_days, "count")
    for budget in report.budgets:
        subject = budget.team_name
        add("budget", subject, "budget_usd", budget.budget_usd, "usd", budget.month)
        add("budget", subject, "spend_usd", budget.spend_usd, "usd", budget.month)
        add("budget", subject, "forecast_usd", budget.forecast_usd, "usd", budget.month)
        breach = budget.projected_breach_date
        add("budget", subject, "projected_breach_date", breach, "date", budget.month)
        add("budget", subject, "status", budget.status, "", budget.month)
    for anomaly in report.anomalies:
        subject = f"{anomaly.subject_kind}:{anomaly.label}"
        for measure, value, unit in (
            ("cost_usd", anomaly.cost_usd, "usd"),
            ("baseline_median_usd", anomaly.baseline_median_usd, "usd"),
            ("excess_usd", anomaly.excess_usd, "usd"),
            ("robust_z_score", anomaly.robust_z_score, ""),
            ("top_model", anomaly.top_model, ""),
            ("top_tool", anomaly.top_tool, ""),
            ("top_session_id", anomaly.top_session_id, ""),
        ):
            add("anomaly", subject, measure, value, unit, anomaly.day)
    reconciliation = report.reconciliation
    add("reconciliation", "", "reported_usd", reconciliation.reported_usd, "usd")
    add("reconciliation", "", "recomputed_usd", reconciliation.recomputed_usd, "usd")
    add("reconciliation", "", "difference_usd", reconciliation.difference_usd, "usd")
    add("reconciliation", "", "unpriced_usd", reconciliation.unpriced_usd, "usd")
    billed = reconciliation.billed
    if billed is None:
        add("reconciliation", "", "billed_usd", NO_BILL)
    else:
        add("reconciliation", "", "billed_usd", billed.billed_usd, "usd")
        add("reconciliation", "", "billed_source", billed.source_label)
        add("reconciliation", "", "billed_days", billed.days, "count")
        add("reconciliation", "", "unbilled_days", billed.unbilled_days, "count")
        add("reconciliation", "", "provisional_days", billed.provisional_days, "count")
        add("reconciliation", "", "reported_on_billed_days_usd", billed.reported_usd, "usd")
        add("reconciliation", "", "billed_minus_reported_usd", billed.difference_usd, "usd")
        for part in billed.explained:
            add("reconciliation", part.label, "billed_minus_reported_usd", part.cost_usd, "usd")
        for line in billed.lines:
            subject = f"{line.product}:{line.model}"
            for measure, value in (
                ("reported_usd", line.reported_usd),
                ("recomputed_usd", line.recomputed_usd),
                ("billed_usd", line.billed_usd),
                ("claude_code_estimate_usd", line.claude_code_estimate_usd),
                ("billed_minus_reported_usd", line.difference_usd),
            ):
                add("reconciliation_by_model", subject, measure, value, "usd")
            add("reconciliation_by_model", subject, "reasons", " ".join(line.reasons))
    for source in report.health:
        for measure in (
            "days",
            "events",
            "events_without_email",
            "events_without_account",
            "sequence_gap_events",
            "duplicate_deliveries",
            "late_arrivals",
            "unknown_event_names",
        ):
            add("telemetry_health", source.source, measure, getattr(source, measure), "count")
    for index, note in enumerate(report.caveats, start=1):
        add("caveat", str(index), "text", note)
    return rows


def render_csv(report: CostReport) -> str:
    """The report as one tidy CSV (see `csv_rows`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return buffer.getvalue()
