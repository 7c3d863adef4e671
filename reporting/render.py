"""The cost report as one self-contained HTML page: embedded CSS and inline SVG charts.

The page embeds its CSS (print rules included) and its charts, and refers to nothing
outside itself, so it opens offline and prints as it shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reporting import charts
from reporting.figures import PROVENANCE, REASONS, Amount, CostReport
from reporting.formatting import (
    NO_BILL,
    anomaly_summary,
    breakable,
    change_text,
    coverage,
    fmt_count,
    fmt_day,
    fmt_pct,
    fmt_short_day,
    fmt_usd,
    people_note,
    period_range,
)

TEMPLATES = Path(__file__).parent / "templates"
TEAM_BARS = 10
MODEL_BARS = 8
PRODUCT_COLOURS = {"Cowork": charts.BLUE, "Claude Code": charts.AMBER}
STATUS_CLASSES = {
    "over budget": "over",
    "forecast over": "forecast",
    "on track": "ok",
    "no budget": "none",
}


def _with_other(amounts: Sequence[Amount], keep: int) -> list[Amount]:
    """The `keep` largest amounts and the rest summed as `Other (n)`."""
    if len(amounts) <= keep:
        return list(amounts)
    rest = amounts[keep - 1 :]
    other = sum((amount.cost_usd for amount in rest), start=Decimal(0))
    return [*amounts[: keep - 1], Amount(f"Other ({len(rest)})", other)]


def build_charts(report: CostReport) -> dict[str, str]:
    """Every chart of the report as inline SVG, by name."""
    period, previous = report.period, report.previous_period
    days = period.dates()
    labels, every = charts.day_labels(days, period.kind)
    current = [day.cost_usd for day in report.daily]
    current += [None] * (len(days) - len(current))
    earlier = [day.cost_usd for day in report.previous_daily][: len(days)]
    this_name = period.title if period.kind == "month" else f"This week ({period.label})"
    previous_name = previous.title if previous.kind == "month" else f"Week {previous.label}"
    by_day: dict[int, list[str]] = defaultdict(list)
    for anomaly in report.anomalies:
        if period.contains(anomaly.day):
            by_day[(anomaly.day - period.start).days].append(
                f"{anomaly.label} +{fmt_usd(anomaly.excess_usd)}"
            )
    total = report.total_usd
    lines = [charts.Series(this_name, current, charts.BLUE, filled=True)]
    if any(earlier):  # a previous period without data would only draw along the axis
        lines.append(charts.Series(previous_name, earlier, charts.GREY, dashed=True))
    trend = charts.line_chart(
        labels,
        lines,
        title=f"Daily spend, {period.title}",
        description=(
            f"Spend per day in {period.title}, {fmt_usd(total)} in all, against"
            f" {previous.title}; {len(by_day)} day(s) with an anomaly are circled."
        ),
        markers=[(index, "Anomaly: " + "; ".join(notes)) for index, notes in by_day.items()],
        marker_label="Day with an anomaly",
        tick_every=every,
    )
    team_bars = [charts.Bar(a.label, a.cost_usd) for a in _with_other(report.by_team, TEAM_BARS)]
    model_bars = [
        charts.Bar(a.label, a.cost_usd, "#0d9488") for a in _with_other(report.by_model, MODEL_BARS)
    ]
    product_bars = [
        charts.Bar(a.label, a.cost_usd, PRODUCT_COLOURS.get(a.label, charts.GREY))
        for a in report.by_product
    ]
    reconciliation = report.reconciliation
    billed = reconciliation.billed
    reconciliation_bars = [
        charts.Bar("Reported", reconciliation.reported_usd, charts.BLUE),
        charts.Bar("Recomputed", reconciliation.recomputed_usd, "#0d9488"),
        charts.Bar("Billed", 0, charts.GREY, display=NO_BILL)
        if billed is None
        else charts.Bar(
            "Billed",
            billed.billed_usd,
            "#7c3aed",
            display=f"{fmt_usd(billed.billed_usd)} ({billed.days} days)",
        ),
    ]
    billed_words = (
        NO_BILL
        if billed is None
        else f"billed {fmt_usd(billed.billed_usd)} over {billed.days} days, against"
        f" {fmt_usd(billed.reported_usd)} reported on those days"
    )
    return {
        "trend": trend,
        "teams": charts.bar_chart(
            team_bars,
            title=f"Spend by team, {period.title}",
            description=_describe(report.by_team, "team"),
            total=total,
        ),
        "models": charts.bar_chart(
            model_bars,
            title=f"Spend by model, {period.title}",
            description=_describe(report.by_model, "model"),
            total=total,
            label_width=170,
        ),
        "products": charts.bar_chart(
            product_bars,
            title=f"Spend by product, {period.title}",
            description=_describe(report.by_product, "product"),
            total=total,
        ),
        "reconciliation": charts.bar_chart(
            reconciliation_bars,
            title="Reported versus recomputed versus billed cost",
            description=(
                f"Reported {fmt_usd(reconciliation.reported_usd)}, recomputed"
                f" {fmt_usd(reconciliation.recomputed_usd)}; {billed_words}."
            ),
        ),
        "budgets": _budget_chart(report),
    }


def _describe(amounts: Sequence[Amount], what: str) -> str:
    if not amounts:
        return f"No spend by {what}."
    top = amounts[0]
    return f"{len(amounts)} {what}(s); the largest is {top.label} at {fmt_usd(top.cost_usd)}."


def _budget_chart(report: CostReport) -> str:
    rows = []
    for budget in report.budgets:
        colour = {"over budget": charts.RED, "forecast over": charts.AMBER}.get(
            budget.status, charts.BLUE
        )
        # Spend and budget are in the table below the chart; the note says where it ends.
        parts = [f"forecast {fmt_usd(budget.forecast_usd)}"]
        if budget.budget_usd is None:
            parts.insert(0, "no budget")
        if budget.projected_breach_date:
            parts.append(
                f"breach {budget.projected_breach_date.day} {budget.projected_breach_date:%b}"
            )
        rows.append(
            charts.Bullet(
                budget.team_name,
                budget.spend_usd,
                budget.forecast_usd,
                budget.budget_usd,
                colour,
                " · ".join(parts),
            )
        )
    return charts.bullet_chart(
        rows,
        title=f"Budgets, {report.budget_month.title}",
        description=(
            f"{len(report.budgets_at_risk)} of {len(rows)} teams are over budget or forecast"
            " to go over it."
        ),
    )


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        usd=fmt_usd,
        pct=fmt_pct,
        count=fmt_count,
        day=fmt_day,
        short_day=fmt_short_day,
        breakable=breakable,
    )
    return environment


def render_html(report: CostReport) -> str:
    """The report as one self-contained HTML page."""
    budget_as_of = report.budgets[0].as_of_date if report.budgets else None
    return (
        _environment()
        .get_template("cost_report.html.j2")
        .render(
            r=report,
            charts={name: Markup(svg) for name, svg in build_charts(report).items()},
            change=Markup(change_text(report, html=True)),
            coverage=coverage(report),
            period_range=period_range(report.period),
            people_note=people_note(report),
            anomaly_summary=anomaly_summary(report),
            budget_as_of=fmt_day(budget_as_of) if budget_as_of else "date",
            status_class=STATUS_CLASSES,
            provenance=PROVENANCE,
            reasons=REASONS,
        )
    )
