"""`report cost`: the cost report of a month or week."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from configuration.errors import UserError
from cowork_analytics.options import DataDirOption, command_settings, console

app = typer.Typer(help="Reports on the published marts.", no_args_is_help=True)


@app.command("cost")
def report_cost(
    month: Annotated[
        str | None, typer.Option(help="Calendar month, YYYY-MM (default: this month, UTC).")
    ] = None,
    week: Annotated[str | None, typer.Option(help="ISO week instead, YYYY-Www.")] = None,
    data_dir: DataDirOption = Path("data"),
) -> None:
    """Write the cost report of a month or week as HTML, Markdown and CSV under serving/reports."""
    from datetime import UTC, datetime

    from ingestion.paths import DataLayout
    from reporting.periods import month_of, parse_month, parse_week

    if month and week:
        raise typer.BadParameter("give --month or --week, not both")
    try:
        if week:
            period = parse_week(week)
        else:
            period = parse_month(month) if month else month_of(datetime.now(UTC).date())
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week" if week else "--month") from None
    layout = DataLayout(command_settings(data_dir).data_dir)
    if not layout.serving_database.exists():
        raise UserError(
            f"No serving database at {layout.serving_database}: run `cowork-analytics build`"
            " (or `run`) first."
        )
    write_cost_report(layout.serving_database, period)


def write_cost_report(serving_database: Path, period) -> Path:
    """Write one cost report, print its paths and a three-line summary; return the HTML path."""
    from reporting.files import reports_directory, write_cost_report

    report, files = write_cost_report(serving_database, reports_directory(serving_database), period)
    change = (
        f"{report.change_ratio:+.1%} vs {report.comparison_label}"
        if report.change_ratio is not None
        else f"nothing in {report.comparison_label} to compare"
    )
    top_team = report.by_team[0] if report.by_team else None
    top_model = report.by_model[0] if report.by_model else None
    at_risk = report.budgets_at_risk
    # Summary lines name teams and models, never people: terminals and logs are shared.
    console.print(
        f"\n[bold]Cost report {report.period.title}[/bold]: ${report.total_usd:,.2f} ({change}),"
        f" {report.active_users} people, {report.prompts:,} prompts"
    )
    console.print(
        (f"Top team {top_team.label} ${top_team.cost_usd:,.2f}; " if top_team else "")
        + (f"top model {top_model.label} ${top_model.cost_usd:,.2f}; " if top_model else "")
        + f"cache saved ${report.cache_savings_usd:,.2f}"
    )
    console.print(
        f"{len(report.anomalies)} anomal{'y' if len(report.anomalies) == 1 else 'ies'};"
        f" {len(at_risk)} of {len(report.budgets)} team budgets at risk"
        + (f" ({', '.join(budget.team_name for budget in at_risk)})" if at_risk else "")
    )
    console.print(f"HTML:     {files.html}", soft_wrap=True)
    console.print(f"Markdown: {files.markdown}", soft_wrap=True)
    console.print(f"CSV:      {files.csv}", soft_wrap=True)
    return files.html


def write_demo_report(serving_database: Path, end_date: date) -> None:
    """The demo's last step: the cost report of the simulated period's (last) month."""
    from reporting.periods import month_of

    html = write_cost_report(serving_database, month_of(end_date))
    console.print(f"Cost report: {html}", soft_wrap=True)
