"""The Dagster pipeline: `run` once, `demo` on a simulated organisation, `ui` and `serve`."""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cowork_analytics.commands.report import write_demo_report
from cowork_analytics.options import (
    DataDirOption,
    HostOption,
    PortOption,
    command_settings,
    console,
)

if TYPE_CHECKING:
    from configuration.settings import Settings
    from ingestion.paths import DataLayout

# `dagster dev` and the daemon find the code location through pyproject.toml, here.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def run_pipeline_logged(layout: DataLayout, settings: Settings) -> object:
    """Run the job with its console output (dbt's log included) sent to a log file."""
    from cowork_analytics.pipeline import run_pipeline

    log_path = layout.root / "logs" / "last-pipeline-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = run_pipeline(settings)
    console.print(f"  run log: {log_path}")
    return result


def print_run(run) -> None:
    """What the run did, step by step, then its outcome."""
    for notice in run.notices:
        console.print(f"[yellow]notice[/yellow] {notice}")
    table = Table(title=f"Pipeline run {run.run_id}", show_header=False)
    if run.landing:
        table.add_row(
            "OTel landed",
            f"{run.landing.get('records_landed', 0):,} records, "
            f"{run.landing.get('metric_points_landed', 0):,} metric points from "
            f"{run.landing.get('files_with_new_data', 0):,} file(s); "
            f"{run.landing.get('quarantined_lines', 0):,} line(s) quarantined",
        )
    if run.compliance_records:
        pulled = ", ".join(f"{count:,} {name}" for name, count in run.compliance_records.items())
        table.add_row("Compliance pulled", pulled)
    warehouse = run.materialised.get("warehouse", 0)
    if warehouse:
        table.add_row("Warehouse", f"{warehouse} dbt models and seeds built")
    checks = run.checks
    if any(checks.values()):
        table.add_row(
            "Checks",
            f"{len(checks['passed'])} passed, {len(checks['warned'])} warned, "
            f"{len(checks['failed'])} failed",
        )
    if run.published:
        tables = sum(1 for name in run.published if name.startswith("rows."))
        table.add_row(
            "Published",
            f"{tables} marts to {run.published.get('path')} (privacy "
            f"{run.published.get('privacy', 'standard')}) and Parquet; security signals:"
            f" {run.published.get('security.written', 0)} day file(s) written",
        )
    table.add_row("Time", f"{run.seconds:.1f} s")
    console.print(table)
    for name in checks.get("warned", []):
        console.print(f"  [yellow]warned[/yellow] {name}")
    for name in checks.get("failed", []):
        console.print(f"  [red]failed[/red] {name}")
    if run.success:
        console.print(f"[green]Pipeline run {run.run_id} succeeded[/green] in {run.seconds:.1f} s.")
    else:
        console.print(f"[red]Pipeline run {run.run_id} failed[/red] after {run.seconds:.1f} s:")
        for failure in run.step_failures:
            console.print(f"  [red]{failure}[/red]")


def print_cost_summary(serving_database: Path) -> None:
    """Total cost, averages and the top users of the published marts."""
    from warehouse.summary import cost_summary

    summary = cost_summary(serving_database)
    if summary.first_date is None:
        console.print("\nNo usage in the marts yet: nothing has landed.")
        return
    console.print(
        f"\n[bold]Cost summary[/bold] {summary.first_date} to {summary.last_date}: "
        f"[bold]${summary.total_cost_usd:,.2f}[/bold] over {summary.api_requests:,} API requests, "
        f"{summary.prompts:,} prompts, {summary.sessions:,} sessions, {summary.users} users."
    )
    days = len(summary.daily) or 1
    console.print(
        f"Average per day: ${summary.total_cost_usd / days:,.2f}; "
        f"per user: ${summary.total_cost_usd / max(summary.users, 1):,.2f}"
    )
    table = Table(title="Top users by cost", show_lines=False)
    table.add_column("user (account id)")
    table.add_column("cost USD", justify="right")
    for user_key, cost in summary.top_users:
        table.add_row(user_key, f"{cost:,.2f}")
    console.print(table)


def _pipeline_settings(data_dir: Path) -> tuple[Settings, DataLayout]:
    """The pipeline's settings, checked before Dagster is even imported, and its layout."""
    settings = command_settings(data_dir)
    # Imported after the checks: Dagster takes seconds to import.
    from cowork_analytics.pipeline import prepare_dagster_home
    from ingestion.paths import DataLayout

    prepare_dagster_home(settings)
    return settings, DataLayout(settings.data_dir)


def ui(
    data_dir: DataDirOption = Path("data"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
) -> None:
    """Start the Dagster UI (and its daemon, so schedules and sensors run) on this data dir.

    SIGTERM or Ctrl-C stops `dagster dev` and every process it started.
    """
    settings, layout = _pipeline_settings(data_dir)
    from cowork_analytics.services import supervise

    console.print(f"Dagster UI on http://{host}:{port} for {layout.root} (Ctrl-C stops it).")
    dagster = Path(sys.executable).parent / "dagster"
    code = supervise(
        # `dagster dev` finds the code location through pyproject.toml's [tool.dagster].
        {"dagster dev": [str(dagster), "dev", "--host", host, "--port", str(port)]},
        cwd=REPOSITORY_ROOT,
        # The UI's processes read their settings from their environment: this one's, with
        # the data directory (and Dagster home) this command was given.
        env=settings.child_environment(),
        on_exit=lambda name, status: console.print(
            f"[red]{name} exited with status {status}[/red]"
        ),
    )
    raise typer.Exit(code)


def serve(
    data_dir: DataDirOption = Path("data"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
) -> None:
    """Run in production on one machine: the Dagster daemon and web server, until stopped."""
    settings, layout = _pipeline_settings(data_dir)
    from cowork_analytics.services import dagster_commands, supervise

    for notice in settings.skipped_sources():
        console.print(f"[yellow]notice[/yellow] {notice}")
    console.print(
        f"Serving {layout.root}: the daemon (hourly pipeline, daily report, new-files sensor)"
        f" and the UI on http://{host}:{port}. SIGTERM or Ctrl-C stops both."
    )
    code = supervise(
        dagster_commands(Path(sys.executable).parent, host, port),
        cwd=REPOSITORY_ROOT,
        env=settings.child_environment(),
        on_exit=lambda name, status: console.print(
            f"[red]{name} exited with status {status}; stopping the other[/red]"
        ),
    )
    raise typer.Exit(code)


def run(data_dir: DataDirOption = Path("data")) -> None:
    """Run the whole pipeline job once in this process (land, build, publish)."""
    settings, layout = _pipeline_settings(data_dir)
    result = run_pipeline_logged(layout, settings)
    print_run(result)
    if not result.success:
        raise typer.Exit(1)
    print_cost_summary(layout.serving_database)


def demo(
    data_dir: DataDirOption = Path("data"),
    users: Annotated[int, typer.Option(min=1, help="People in the simulated organisation.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days simulated, ending today (UTC).")] = 14,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    end_date: Annotated[
        str | None, typer.Option(help="Last simulated day (YYYY-MM-DD, UTC); default today.")
    ] = None,
) -> None:
    """Generate an organisation, run the pipeline job on it, and print where everything is."""
    started = time.perf_counter()
    settings, layout = _pipeline_settings(data_dir)
    from cowork_analytics.demo import (
        backfill_billed_side,
        demo_organisation,
        ground_truth_mismatches,
    )

    console.print(f"Simulating {users} users over {days} days into {layout.simulated} ...")
    last_day = date.fromisoformat(end_date) if end_date else None
    with demo_organisation(
        layout, settings, users=users, days=days, seed=seed, end_date=last_day
    ) as organisation:
        generated = organisation.generated
        console.print(
            f"  {generated.events:,} events in {generated.files} collector files "
            f"({generated.bytes / 1e6:,.1f} MB),"
            f" {generated.events_per_second:,.0f} events/s"
        )
        console.print(
            "Compliance API emulator serving the same organisation on"
            f" {organisation.compliance_url}"
        )
        console.print(
            "Billing APIs emulator serving its billed view (with planted differences) on"
            f" {organisation.billing_url}"
        )
        with console.status("Back-filling the billed side of the simulated days"):
            billed = backfill_billed_side(organisation, layout)
        console.print(
            f"  {sum(billed.days_replaced.values()):,} report days pulled in"
            f" {billed.requests:,} requests (at most 60 a minute, as Anthropic allows)"
        )
        console.print(
            "Running the pipeline job (land OTel, pull Compliance and billing, dbt build,"
            " publish) ..."
        )
        result = run_pipeline_logged(layout, organisation.settings)
    print_run(result)
    if not result.success:
        raise typer.Exit(1)
    mismatches = ground_truth_mismatches(layout, settings)
    if mismatches:
        console.print(
            f"[red]The marts differ from the ground truth in {len(mismatches)} place(s)[/red]"
        )
        for problem in mismatches[:10]:
            console.print(f"  {problem}")
        raise typer.Exit(1)
    console.print(
        "[green]Every mart matches the generator's ground truth exactly, billed cost and its"
        " planted differences included.[/green]"
    )
    print_cost_summary(layout.serving_database)
    console.print(f"\nLanded Parquet:   {layout.otel_events}", soft_wrap=True)
    console.print(f"Build database:   {layout.build_database}", soft_wrap=True)
    console.print(
        f"Serving database: {layout.serving_database}  (schema marts, open it read-only)",
        soft_wrap=True,
    )
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s.")
    write_demo_report(layout.serving_database, date.fromisoformat(generated.end_date))
