"""`forget`: carry out one person's erasure request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cowork_analytics.options import DataDirOption, command_settings, console


def forget(
    user: Annotated[
        str,
        typer.Option("--user", help="The person's e-mail, account id, account uuid or user_key."),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = Path("data"),
) -> None:
    """Erase one person's landed and derived data (an erasure request), then rebuild."""
    from governance.erasure import PersonNotFoundError, forget_person
    from ingestion.paths import DataLayout

    settings = command_settings(data_dir)
    layout = DataLayout(settings.data_dir)
    if not yes:
        typer.confirm(
            "Erase every landed record, mart row and export of this person and rebuild the"
            " warehouse? This cannot be undone",
            abort=True,
        )
    try:
        summary = forget_person(layout, user, settings=settings)
    except PersonNotFoundError:
        console.print("Nothing landed or built names this identifier: nothing was erased.")
        raise typer.Exit(1) from None
    # Counts and the audit hash only: the identifier is never echoed to shared terminals.
    table = Table(title=f"Erasure {summary.request_hash[:16]}", show_header=False)
    for area, rows in sorted(summary.rows_removed.items()):
        table.add_row(f"rows removed: {area}", f"{rows:,}")
    for area, rows in sorted(summary.rows_redacted.items()):
        table.add_row(f"mentions redacted: {area}", f"{rows:,}")
    table.add_row("files rewritten", f"{summary.files_rewritten:,}")
    table.add_row("files deleted", f"{summary.files_deleted:,}")
    table.add_row("quarantined lines removed", f"{summary.quarantine_lines_removed:,}")
    table.add_row("build database rows removed", f"{summary.build_rows_removed:,}")
    table.add_row(
        "identifiers added to the erasure register", f"{summary.identifiers_registered:,}"
    )
    table.add_row("rebuild", "full refresh" if summary.full_refresh else "incremental")
    console.print(table)
    console.print(f"Audit record: {layout.root / 'state' / 'erasure-audit.jsonl'}")
    if not summary.build_success:
        for failure in summary.build_failures:
            console.print(f"[red]failed[/red] {failure}")
        console.print(
            "[red]The rebuild failed: the landed data is erased, but the serving side still"
            " holds the person. Rerun `forget` with the same identifier to finish.[/red]"
        )
        raise typer.Exit(1)
