"""`build`: the warehouse on what has landed, published for BI tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cowork_analytics.options import DataDirOption, command_settings, console


def build(
    data_dir: DataDirOption = Path("data"),
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    target: Annotated[
        str,
        typer.Option(
            help="dbt profile target: `local` (DuckDB, published for BI tools) or `spark`"
            " (the same models on Apache Spark, into build/spark of the data directory)."
        ),
    ] = "local",
    verbose: Annotated[bool, typer.Option("--verbose", help="Show every dbt node.")] = False,
) -> None:
    """Build the warehouse (dbt build) on what has landed and publish the marts."""
    from ingestion.paths import DataLayout
    from warehouse.build import build_warehouse
    from warehouse.publish import PrivacyLeakError

    settings = command_settings(data_dir)  # strict without a pepper stops here
    layout = DataLayout(settings.data_dir)
    console.print(f"Building the warehouse from {layout.root / 'landing'} (target {target}) ...")
    try:
        result = build_warehouse(
            layout,
            settings=settings,
            target=target,
            full_refresh=full_refresh,
            quiet=not verbose,
            on_wait=lambda: console.print("Another build holds the warehouse; waiting for it ..."),
        )
    except PrivacyLeakError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    if result.discarded:
        console.print(
            f"[yellow]The build database could not be opened; it was moved to {result.discarded}"
            " and rebuilt from the landed data.[/yellow]"
        )
    models, tests = result.models, result.tests
    console.print(
        f"Models: {models['success']} built, {models['error']} failed, {models['skipped']} "
        f"skipped. Tests: {tests['pass']} passed, {tests['warn']} warned, "
        f"{tests['fail'] + tests['error']} failed. {result.seconds:.1f} s."
    )
    for name in result.warnings:
        console.print(f"[yellow]warning[/yellow] {name}")
    for failure in result.failures:
        console.print(f"[red]failed[/red] {failure}")
    if result.error:
        console.print(f"[red]{result.error}[/red]")
    if not result.success:
        console.print("[red]Build failed; the serving database was left as it was.[/red]")
        raise typer.Exit(1)
    if result.published is not None:
        console.print(
            f"Published {len(result.published.tables)} marts to {result.published.path} "
            "(schema marts, open it read-only)."
        )
        console.print(
            f"Security signals (ECS JSON lines, one file per day) in {layout.serving_security}:"
            f" {result.published.security.describe()}."
        )
    elif target == "spark":
        console.print(
            f"Spark's tables are in {layout.spark_warehouse} (one folder per table, Parquet);"
            " the serving database was left as it was."
        )
