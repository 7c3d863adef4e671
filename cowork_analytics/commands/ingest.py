"""`ingest otel` and `ingest compliance`: land one source as Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from configuration.errors import ConfigurationError
from configuration.settings import PrivacyMode, Settings
from cowork_analytics.options import DataDirOption, command_settings, console

app = typer.Typer(help="Land one source as Parquet.", no_args_is_help=True)


@app.command("otel")
def ingest_otel(
    data_dir: DataDirOption = Path("data"),
    inputs: Annotated[
        list[Path] | None,
        typer.Option(
            "--input", help="Collector output folder or file (repeatable); default COWORK_OTEL_DIR."
        ),
    ] = None,
    privacy: Annotated[
        str,
        typer.Option(
            envvar="COWORK_PRIVACY", help="strict, standard or full: where content text lands."
        ),
    ] = "standard",
    compact_above: Annotated[
        int, typer.Option(min=1, help="Compact a date partition holding more files than this.")
    ] = 32,
) -> None:
    """Land new complete messages of the collector's files (every framing) as Parquet."""
    # Strict without a pepper, a bad retention or path stops here, before anything is read.
    settings = command_settings(data_dir, privacy=PrivacyMode.parse(privacy))
    folders = otel_inputs(inputs, settings)
    # Imported after the checks, so a bad setting is reported even while the landing's own
    # imports are slow or broken.
    from governance.retention import apply_retention
    from ingestion.otel.land import discover_files, land_otel
    from ingestion.paths import DataLayout

    layout = DataLayout(settings.data_dir)
    retention = apply_retention(
        layout,
        content_days=settings.content_retention_days,
        raw_days=settings.raw_retention_days,
    )
    total = sum(path.stat().st_size for path in discover_files(folders))
    columns = (*Progress.get_default_columns()[:-1], DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Landing OTel files", total=total)
        summary = land_otel(
            folders,
            layout,
            progress=lambda consumed: progress.advance(task, consumed),
            privacy=settings.privacy,
            pepper=settings.pepper,
            compact_above=compact_above,
            erasure_pepper=settings.erasure_pepper,
        )
    table = Table(title="OTel landing", show_header=False)
    retained = {key: value for key, value in retention.as_dict().items() if value is not None}
    for key, value in (summary.as_dict() | retained).items():
        table.add_row(
            key.replace("_", " "), f"{value:,}" if isinstance(value, int | float) else str(value)
        )
    console.print(table)
    for path in summary.unsupported_files:
        console.print(f"[yellow]left unlanded (not a collector file format): {path}[/yellow]")
    for path in summary.unreadable_files:
        console.print(f"[yellow]left unlanded (cannot be read): {path}[/yellow]")


def _apply_retention(layout, settings: Settings) -> None:
    """Apply the retention settings before a pull, as `ingest otel` does before a landing."""
    from governance.retention import apply_retention

    retention = apply_retention(
        layout,
        content_days=settings.content_retention_days,
        raw_days=settings.raw_retention_days,
    )
    dropped = sum(retention.partitions_dropped.values())
    if dropped or retention.quarantine_files_dropped:
        console.print(
            f"Retention: {dropped:,} landed day partition(s) and"
            f" {retention.quarantine_files_dropped:,} quarantine file(s) past the kept days"
            " dropped"
        )


def otel_inputs(inputs: list[Path] | None, settings: Settings) -> list[Path]:
    """The OTel inputs of `ingest otel` (`--input`, else `COWORK_OTEL_DIR`), each existing.

    Raises:
        ConfigurationError: an input that does not exist, naming where it came from.
    """
    if inputs:
        folders, setting = [path.expanduser().resolve() for path in inputs], "--input"
    elif settings.configured_otel_dirs:
        folders, setting = list(settings.otel_dirs), "COWORK_OTEL_DIR"
    else:
        folders, setting = list(settings.otel_dirs), "COWORK_OTEL_DIR (not set; the default)"
    for folder in folders:
        if not folder.exists():
            raise ConfigurationError(
                f"{setting}: the OTel input {folder} does not exist (give the collector's"
                " output folder with --input or COWORK_OTEL_DIR)"
            )
    return folders


@app.command("compliance")
def ingest_compliance(
    data_dir: DataDirOption = Path("data"),
    backfill_days: Annotated[
        int, typer.Option(min=1, help="Activity history to fetch on the first run (days).")
    ] = 30,
) -> None:
    """Pull the Compliance API (ANTHROPIC_COMPLIANCE_API_KEY): activities, directory, sessions."""
    from ingestion.compliance_api.client import ComplianceClient
    from ingestion.compliance_api.pull import pull_compliance
    from ingestion.paths import DataLayout

    settings = command_settings(data_dir)
    layout = DataLayout(settings.data_dir)
    _apply_retention(layout, settings)
    # A missing key (ConfigurationError) and every failed pull (AnthropicApiError: a status,
    # a deadline, a listing that would not end, a body that is not JSON) are UserErrors: the
    # app prints their one redacted line, without a traceback unless --verbose.
    client = ComplianceClient.from_settings(settings)
    with (
        client,
        Progress(*Progress.get_default_columns()[:-1], console=console, transient=True) as progress,
    ):
        task = progress.add_task("Pulling activities", total=None)
        summary = pull_compliance(
            client,
            layout,
            backfill_days=backfill_days,
            on_page=lambda n: progress.advance(task, n),
            erasure_pepper=settings.erasure_pepper,
            keep_days=settings.raw_retention_days,
        )
    table = Table(title="Compliance API pull")
    table.add_column("entity")
    table.add_column("landed", justify="right")
    table.add_column("quarantined", justify="right")
    if summary.erased:  # records of people `forget` erased, dropped again
        table.add_column("forgotten, dropped", justify="right")
    for entity in sorted(summary.records.keys() | summary.quarantined.keys()):
        landed, held = summary.records.get(entity, 0), summary.quarantined.get(entity, 0)
        erased = [f"{summary.erased.get(entity, 0):,}"] if summary.erased else []
        table.add_row(entity, f"{landed:,}", f"{held:,}", *erased)
    console.print(table)
    if summary.mentions_redacted:
        console.print(
            f"{summary.mentions_redacted:,} activities of other people mentioned a forgotten"
            " person: the mention was replaced by [erased]"
        )
    console.print(
        f"{summary.requests:,} requests, {summary.retries:,} retries,"
        f" {summary.waited_seconds:,.1f} s waited"
    )
    if quarantined := sum(summary.quarantined.values()):
        console.print(
            f"[yellow]{quarantined:,} malformed record(s) quarantined, with the reason, in"
            f" {layout.compliance('quarantine')}[/yellow]"
        )


@app.command("billing")
def ingest_billing(
    data_dir: DataDirOption = Path("data"),
    backfill_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=365,
            help="Trailing days re-pulled each run (cost stays provisional ~30 days);"
            " default COWORK_BILLING_BACKFILL_DAYS, else 30.",
        ),
    ] = None,
) -> None:
    """Pull billed cost and the analytics reports (ANTHROPIC_ADMIN_API_KEY / _ANALYTICS_API_KEY)."""
    from ingestion.billing.pull import BillingClients, pull_billing
    from ingestion.paths import DataLayout

    changes = {} if backfill_days is None else {"billing_backfill_days": backfill_days}
    settings = command_settings(data_dir, **changes)
    layout = DataLayout(settings.data_dir)
    _apply_retention(layout, settings)
    clients = BillingClients.from_settings(settings)
    try:
        with console.status("Pulling the cost reports, Claude Code and Enterprise Analytics"):
            summary = pull_billing(
                clients,
                layout,
                backfill_days=settings.billing_backfill_days,
                erasure_pepper=settings.erasure_pepper,
                keep_days=settings.raw_retention_days,
            )
    finally:
        clients.close()
    for notice in summary.notices:
        console.print(f"[yellow]notice[/yellow] {notice}")
    table = Table(title="Billing pull")
    table.add_column("report")
    table.add_column("days rewritten", justify="right")
    table.add_column("rows landed", justify="right")
    table.add_column("quarantined", justify="right")
    if summary.erased:  # rows of people `forget` erased, dropped again
        table.add_column("forgotten, dropped", justify="right")
    for report in sorted(summary.days_replaced.keys() | summary.quarantined.keys()):
        table.add_row(
            report,
            f"{summary.days_replaced.get(report, 0):,}",
            f"{summary.records.get(report, 0):,}",
            f"{summary.quarantined.get(report, 0):,}",
            *([f"{summary.erased.get(report, 0):,}"] if summary.erased else []),
        )
    console.print(table)
    sources = sorted({source for *_, source in summary.windows})
    if sources:
        console.print(f"Billed cost from: {', '.join(sources)}")
    console.print(
        f"{summary.requests:,} requests, {summary.retries:,} retries,"
        f" {summary.restarts:,} listings restarted, {summary.waited_seconds:,.1f} s waited"
    )
    if quarantined := sum(summary.quarantined.values()):
        console.print(
            f"[yellow]{quarantined:,} malformed record(s) quarantined, with the reason, in"
            f" {layout.billing('quarantine')}[/yellow]"
        )
