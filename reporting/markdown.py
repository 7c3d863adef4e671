"""The cost report as Markdown: the same figures as the HTML page, as tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reporting.figures import PROVENANCE, REASONS, Anomaly, Billed, BilledLine, CostReport
from reporting.formatting import (
    NO_BILL,
    NOT_AVAILABLE,
    anomaly_summary,
    change_text,
    coverage,
    fmt_count,
    fmt_day,
    fmt_pct,
    fmt_usd,
    people_note,
    period_range,
)


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    align = ["---:" if header.startswith(" ") else "---" for header in headers]
    lines = [
        "| " + " | ".join(header.strip() for header in headers) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(report: CostReport) -> str:
    """The report as Markdown (the same figures as the HTML, as tables)."""
    period = report.period
    total = report.total_usd or None
    lines = [
        f"# Cost report: {period.title}",
        "",
        f"{period_range(period)} · {coverage(report)} · generated"
        f" {report.generated_at:%Y-%m-%d %H:%M} UTC · privacy {report.privacy}",
        "",
        "## Summary",
        "",
        *_md_table(
            ("Figure", " Value", "Detail"),
            [
                ("Total spend", fmt_usd(report.total_usd), change_text(report, html=False)),
                (
                    "Cost per prompt",
                    fmt_usd(report.cost_per_prompt_usd, 3),
                    f"{fmt_count(report.prompts)} prompts;"
                    f" {fmt_usd(report.comparison_cost_per_prompt_usd, 3)} in"
                    f" {report.comparison_label}",
                ),
                (
                    "Cost per active user",
                    fmt_usd(report.cost_per_active_user_usd),
                    f"{report.active_users} people with spend;"
                    f" {fmt_usd(report.comparison_cost_per_active_user_usd)} in"
                    f" {report.comparison_label}",
                ),
                (
                    "Cache savings",
                    fmt_usd(report.cache_savings_usd),
                    f"{fmt_pct(report.cache_read_share)} of input tokens read from the cache",
                ),
                (
                    "Budgets at risk",
                    f"{len(report.budgets_at_risk)} of {len(report.budgets)}",
                    report.budget_month.title,
                ),
                ("Anomalies", len(report.anomalies), anomaly_summary(report)),
            ],
        ),
        "",
        "## Daily spend",
        "",
        *_md_table(
            ("Day", " Spend", " Previous period"),
            [
                (
                    fmt_day(day.day),
                    fmt_usd(day.cost_usd),
                    fmt_usd(report.previous_daily[index].cost_usd)
                    if index < len(report.previous_daily)
                    else NOT_AVAILABLE,
                )
                for index, day in enumerate(report.daily)
            ],
        ),
    ]
    for title, amounts in (
        ("By team", report.by_team),
        ("By model", report.by_model),
        ("By product", report.by_product),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            *_md_table(
                (title.removeprefix("By ").capitalize(), " Spend", " Share"),
                [
                    (a.label, fmt_usd(a.cost_usd), fmt_pct(a.cost_usd / total if total else None))
                    for a in amounts
                ],
            ),
        ]
    lines += ["", f"## Budgets: {report.budget_month.title}", ""]
    lines += _md_table(
        ("Team", " Budget", " Spend", " Forecast", "Projected breach", "Status"),
        [
            (
                b.team_name,
                fmt_usd(b.budget_usd),
                fmt_usd(b.spend_usd),
                fmt_usd(b.forecast_usd),
                fmt_day(b.projected_breach_date) if b.projected_breach_date else NOT_AVAILABLE,
                b.status,
            )
            for b in report.budgets
        ],
    )
    lines += ["", "## Top users", "", people_note(report), ""]
    lines += _md_table(
        ("Person", "Team", " Spend", " Prompts", " Active days"),
        [
            (u.label, u.team_name, fmt_usd(u.cost_usd), fmt_count(u.prompts), u.active_days)
            for u in report.top_users
        ],
    )
    lines += ["", "## Anomalies", ""]
    if report.anomalies:
        headers = ("Day", "Kind", "Who", " Cost", " Usual", " Excess", " Robust z", "Model",
                   "Tool", "Session")  # fmt: skip
        lines += _md_table(headers, [_anomaly_cells(a) for a in report.anomalies])
    else:
        lines.append(f"No anomalies in {period.title}.")
    reconciliation = report.reconciliation
    lines += ["", "## Reconciliation", ""]
    lines += _md_table(
        ("Figure", " Value"),
        [
            ("Reported cost", fmt_usd(reconciliation.reported_usd)),
            ("Recomputed from the price list", fmt_usd(reconciliation.recomputed_usd)),
            ("Reported minus recomputed", fmt_usd(reconciliation.difference_usd)),
            ("Reported on unpriced models", fmt_usd(reconciliation.unpriced_usd)),
            *_billed_figures(reconciliation.billed),
        ],
    )
    billed = reconciliation.billed
    if billed and billed.lines:
        lines += ["", "### Estimated against billed, by product and model", ""]
        lines.append(
            f"{PROVENANCE['reported']}. {PROVENANCE['recomputed']}. {PROVENANCE['billed']}"
            f" ({billed.source_label}). Claude Code estimate:"
            f" {PROVENANCE['claude_code_estimate']}. Days with a billed figure only."
        )
        lines.append("")
        headers = ("Product", "Model", " Reported", " Recomputed", " Billed",
                   " Claude Code estimate", " Billed minus reported", "Why")  # fmt: skip
        lines += _md_table(headers, [_billed_cells(line) for line in billed.lines])
    lines += ["", "## How complete these numbers are", ""]
    lines += [f"- {note}" for note in report.caveats] or ["No known gaps."]
    lines += [
        "",
        "Every figure is read from the marts of the serving warehouse. Days are UTC. No prompt"
        " text is shown.",
        "",
    ]
    return "\n".join(lines)


def _billed_figures(billed: Billed | None) -> list[tuple[str, str]]:
    if billed is None:
        return [("Billed", NO_BILL)]
    return [
        (f"Billed by Anthropic ({billed.source_label}), {billed.days} day(s)",
         fmt_usd(billed.billed_usd)),
        ("Reported on the same days", fmt_usd(billed.reported_usd)),
        ("Billed minus reported", fmt_usd(billed.difference_usd)),
        *((f"… of which {REASONS.get(part.label, part.label)}", fmt_usd(part.cost_usd))
          for part in billed.explained),
    ]  # fmt: skip


def _billed_cells(line: BilledLine) -> tuple[object, ...]:
    return (
        line.product,
        line.model,
        fmt_usd(line.reported_usd),
        fmt_usd(line.recomputed_usd),
        fmt_usd(line.billed_usd),
        fmt_usd(line.claude_code_estimate_usd),
        fmt_usd(line.difference_usd),
        "; ".join(REASONS.get(reason, reason) for reason in line.reasons),
    )


def _anomaly_cells(anomaly: Anomaly) -> tuple[object, ...]:
    return (
        fmt_day(anomaly.day),
        anomaly.subject_kind,
        anomaly.label,
        fmt_usd(anomaly.cost_usd),
        fmt_usd(anomaly.baseline_median_usd),
        fmt_usd(anomaly.excess_usd),
        NOT_AVAILABLE if anomaly.robust_z_score is None else anomaly.robust_z_score,
        anomaly.top_model or NOT_AVAILABLE,
        anomaly.top_tool or NOT_AVAILABLE,
        anomaly.top_session_id or NOT_AVAILABLE,
    )
