"""`alerts send`: the alerts the published marts call for, each sent once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from configuration.errors import UserError
from cowork_analytics.options import DataDirOption, command_settings, console

app = typer.Typer(help="Alerts to the webhook (COWORK_ALERT_WEBHOOK_URL).", no_args_is_help=True)


@app.command("send")
def alerts_send(
    data_dir: DataDirOption = Path("data"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send and record nothing.")
    ] = False,
) -> None:
    """Send the alerts the published marts call for (each once); print what was sent."""
    from alerting.detect import DetectionSettings
    from alerting.run import NOT_CONFIGURED_NOTICE, send_detected_alerts
    from ingestion.paths import DataLayout

    settings = command_settings(data_dir)
    layout = DataLayout(settings.data_dir)
    if not layout.serving_database.exists():
        raise UserError(f"No serving database at {layout.serving_database}: build first.")
    webhook = settings.alert_webhook_url
    if webhook is None and not dry_run:
        console.print(f"[yellow]{NOT_CONFIGURED_NOTICE}[/yellow]")
    summary = send_detected_alerts(
        layout.root,
        url=webhook.value if webhook else None,
        dry_run=dry_run,
        settings=DetectionSettings.from_settings(settings),
    )
    table = Table(title="Alerts" + (" (dry run)" if dry_run else ""))
    table.add_column("key")
    table.add_column("severity")
    table.add_column("title")
    table.add_column("status")
    titles = {alert.key: alert for alert in summary.would_send}
    for key, alert in titles.items():
        table.add_row(key, alert.severity.value, alert.title, "would send")
    for key in summary.sent:
        table.add_row(key, "", "", "[green]sent[/green]")
    for key, error in summary.failed.items():
        table.add_row(key, "", "", f"[red]failed: {error}[/red] (retried next time)")
    console.print(table)
    console.print(
        f"{summary.detected} detected, {len(summary.already_sent)} sent before, "
        f"{len(summary.sent)} sent now, {len(summary.failed)} failed"
        + (f" (webhook host {summary.webhook_host})" if summary.webhook_host else "")
    )
