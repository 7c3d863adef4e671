"""The `cowork-analytics` command line."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from ingestion.errors import ConfigurationError, UserError

# Set by the app callback's --verbose: errors then show their traceback too.
_options = SimpleNamespace(verbose=False)


class _GuardedTyper(typer.Typer):
    """The Typer app, run so that an error people can act on ends in one line, not a traceback.

    The installed `cowork-analytics` script calls `app()`, so guarding here covers every
    command without a per-command try/except or a new entry point to reinstall.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            sys.exit(_report_error(error))


def _user_message(error: Exception) -> str | None:
    """The one-line message of an error people can act on, or None for anything else."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        # The path is what to act on (create, fix permissions, free space); name it first.
        paths = " -> ".join(str(path) for path in (error.filename, error.filename2) if path)
        reason = error.strerror or str(error)
        return f"{paths}: {reason}" if paths else reason
    return None


def _report_error(error: Exception) -> int:
    """Print an error that ended a command, on stderr; return the exit status.

    A configuration error exits with 2, a runtime failure (a file, the disk) with 1.
    Anything else is a bug, and keeps its traceback even without --verbose: it is what makes
    the bug reportable, and a failure in a scheduled or data-dependent run may not recur
    when rerun with --verbose. The traceback is Python's plain one, never Typer's, whose
    local variables could show the API key or the pepper.
    """
    message = _user_message(error)
    if message is None or _options.verbose:
        traceback.print_exception(error)
    if message is None:
        message = (
            f"unexpected error ({type(error).__name__}): a bug in cowork-analytics; please"
            " report it with the traceback above"
        )
    typer.secho(message, fg="red", err=True)
    return error.exit_code if isinstance(error, UserError) else 1


app = _GuardedTyper(
    help="Land Cowork / Claude Code telemetry, build the warehouse, serve it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
ingest_app = typer.Typer(help="Land one source as Parquet.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
console = Console()

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="COWORK_DATA_DIR",
        help="Data directory (landing, state, build, serving).",
    ),
]


def _check_data_dir(root: Path) -> None:
    """Fail unless the data directory `root` is a writable directory, or can be created as one.

    Raises:
        ConfigurationError: naming the setting and the path that is in the way.
    """
    existing = root
    while not existing.exists():
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = "is a file, not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = "is not writable"
    if problem is None:
        return
    if existing != root:
        problem = f"cannot be created: {existing} {problem}"
    # Typer (0.29) does not tell whether the option or the variable gave it: name both.
    raise ConfigurationError(f"--data-dir/COWORK_DATA_DIR: the data directory {root} {problem}")


def _data_dir(path: Path) -> Path:
    """The data directory of a command, checked and exported as `COWORK_DATA_DIR`."""
    resolved = path.expanduser().resolve()
    _check_data_dir(resolved)
    os.environ["COWORK_DATA_DIR"] = str(resolved)
    return resolved


def _check_privacy(value: str | None = None) -> None:
    """Fail on a privacy mode that cannot work: unknown, or strict without a long pepper.

    Args:
        value: the mode given to the command; by default `COWORK_PRIVACY`.
    """
    from ingestion.otel.privacy import PrivacyMode, pii_pepper
    from orchestration.lib.environment import privacy_mode

    try:
        pii_pepper(PrivacyMode.parse(privacy_mode() if value is None else value))
    except ValueError as error:  # its messages name COWORK_PRIVACY / COWORK_PII_PEPPER
        raise ConfigurationError(str(error)) from error


def _check_pipeline_settings() -> None:
    """Fail before anything runs on a privacy, pepper or retention setting the run would reject.

    The pipeline's steps read these settings themselves; checked here, a bad one ends the
    command in one line instead of a failed step after minutes of work.
    """
    from ingestion.retention import retention_from_environment

    _check_privacy()
    retention_from_environment()


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress details; show errors' tracebacks.")
    ] = False,
) -> None:
    """cowork-analytics: a warehouse for Claude Cowork and Claude Code usage."""
    _options.verbose = verbose
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # httpx and httpcore are included so that a verbose run shows every request (their log
    # lines carry URLs, never the x-api-key header).
    for name in ("cowork_analytics", "ingestion", "simulation", "warehouse", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(
            (logging.DEBUG if name == "httpcore" else logging.INFO) if verbose else logging.WARNING
        )


@app.command()
def generate(
    output: Annotated[
        Path, typer.Option(help="Folder to write otel/, compliance/ and ground_truth/ into.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    users: Annotated[int, typer.Option(min=1, help="People in the organisation.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days simulated.")] = 14,
    end_date: Annotated[
        str | None, typer.Option(help="Last simulated day (YYYY-MM-DD, UTC); default today.")
    ] = None,
    rotate_mb: Annotated[
        float, typer.Option(help="Rotate the live file past this many MB.")
    ] = 16.0,
    file_format: Annotated[
        str, typer.Option("--format", help="The exporter's format: json or proto.")
    ] = "json",
    compression: Annotated[
        str, typer.Option(help="The exporter's compression: none or zstd (per message).")
    ] = "none",
    native_zstd: Annotated[
        bool, typer.Option(help="The nativeCompression gate: a standard .zst stream.")
    ] = False,
) -> None:
    """Simulate an organisation: collector files, Compliance records and ground truth."""
    from simulation.collector import FileFormat
    from simulation.generate import generate as run_generation

    try:
        exporter_format = FileFormat(file_format, compression, native_zstd)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    result = run_generation(
        output,
        seed=seed,
        users=users,
        days=days,
        end_date=date.fromisoformat(end_date) if end_date else None,
        rotate_megabytes=rotate_mb,
        file_format=exporter_format,
    )
    console.print(
        f"Generated {result.events:,} events ({result.lines:,} lines, {result.files} files, "
        f"{result.bytes / 1e6:,.1f} MB) for {result.users} users, "
        f"{result.start_date} to {result.end_date}, "
        f"in {result.seconds:.1f} s ({result.events_per_second:,.0f} events/s)."
    )
    console.print(f"OTel files: {result.otel_dir}")


@ingest_app.command("otel")
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
    from ingestion.retention import apply_retention_from_environment, retention_from_environment

    _check_privacy(privacy)  # strict without a pepper stops here, before anything is read
    retention_from_environment()
    data_root = _data_dir(data_dir)
    folders = _otel_inputs(inputs)
    # Imported after the checks, so a bad setting is reported even while the landing's own
    # imports are slow or broken.
    from ingestion.otel.land import discover_files, land_otel
    from ingestion.otel.privacy import PrivacyMode
    from ingestion.paths import DataLayout

    layout = DataLayout(data_root)
    retention = apply_retention_from_environment(layout)
    mode = PrivacyMode.parse(privacy)
    total = sum(path.stat().st_size for path in discover_files(folders))
    columns = (*Progress.get_default_columns()[:-1], DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Landing OTel files", total=total)
        summary = land_otel(
            folders,
            layout,
            progress=lambda consumed: progress.advance(task, consumed),
            privacy=mode,
            compact_above=compact_above,
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


def _otel_inputs(inputs: list[Path] | None) -> list[Path]:
    """The OTel inputs of `ingest otel` (`--input`, else `COWORK_OTEL_DIR`), each existing.

    Raises:
        ConfigurationError: an input that does not exist, naming where it came from.
    """
    from orchestration.lib.environment import otel_dirs

    if inputs:
        folders, setting = [path.expanduser().resolve() for path in inputs], "--input"
    elif os.environ.get("COWORK_OTEL_DIR"):
        folders, setting = otel_dirs(), "COWORK_OTEL_DIR"
    else:
        folders, setting = otel_dirs(), "COWORK_OTEL_DIR (not set; the default)"
    for folder in folders:
        if not folder.exists():
            raise ConfigurationError(
                f"{setting}: the OTel input {folder} does not exist (give the collector's"
                " output folder with --input or COWORK_OTEL_DIR)"
            )
    return folders


def _run_pipeline_logged(layout) -> object:
    """Run the job with its console output (dbt's log included) sent to a log file."""
    from cowork_analytics.pipeline import run_pipeline

    log_path = layout.root / "logs" / "last-pipeline-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = run_pipeline()
    console.print(f"  run log: {log_path}")
    return result


@ingest_app.command("compliance")
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

    layout = DataLayout(_data_dir(data_dir))
    # A missing key (ConfigurationError) and every failed pull (ComplianceApiError: a status,
    # a deadline, a listing that would not end, a body that is not JSON) are UserErrors: the
    # app prints their one redacted line, without a traceback unless --verbose.
    client = ComplianceClient.from_environment()
    with (
        client,
        Progress(*Progress.get_default_columns()[:-1], console=console, transient=True) as progress,
    ):
        task = progress.add_task("Pulling activities", total=None)
        summary = pull_compliance(
            client, layout, backfill_days=backfill_days, on_page=lambda n: progress.advance(task, n)
        )
    table = Table(title="Compliance API pull")
    table.add_column("entity")
    table.add_column("landed", justify="right")
    table.add_column("quarantined", justify="right")
    for entity in sorted(summary.records.keys() | summary.quarantined.keys()):
        landed, held = summary.records.get(entity, 0), summary.quarantined.get(entity, 0)
        table.add_row(entity, f"{landed:,}", f"{held:,}")
    console.print(table)
    console.print(
        f"{summary.requests:,} requests, {summary.retries:,} retries,"
        f" {summary.waited_seconds:,.1f} s waited"
    )
    if quarantined := sum(summary.quarantined.values()):
        console.print(
            f"[yellow]{quarantined:,} malformed record(s) quarantined, with the reason, in"
            f" {layout.compliance('quarantine')}[/yellow]"
        )


@app.command("compliance-emulator")
def compliance_emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8788,
    seed: Annotated[int, typer.Option(help="Seed of the organisation and of the faults.")] = 7,
    users: Annotated[int, typer.Option(min=1, help="People in the organisation.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days of activity, ending today (UTC).")] = 14,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered with a fault.")
    ] = 0.0,
    api_key: Annotated[
        str | None, typer.Option(help="Accept only this key (default: any non-empty key).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Serve an existing generator `compliance/` folder instead.")
    ] = None,
) -> None:
    """Serve a generated organisation as Anthropic's Compliance API, on 127.0.0.1."""
    import tempfile

    from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
    from simulation.generate import generate as run_generation

    if data is None:
        scratch = Path(tempfile.mkdtemp(prefix="compliance-emulator-"))
        run_generation(scratch, seed=seed, users=users, days=days)
        data = scratch / "compliance"
    emulator = ComplianceEmulator(
        EmulatorData.load(data), port=port, api_key=api_key, fault_rate=fault_rate, seed=seed
    )
    console.print(
        f"Compliance API emulator on {emulator.url} (fault rate {fault_rate:g}); Ctrl-C stops it."
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        emulator.stop()


def _print_run(run) -> None:
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
            f"{run.published.get('privacy', 'standard')}) and Parquet",
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


def _print_cost_summary(serving_database: Path) -> None:
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


@app.command()
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

    _check_privacy()  # the publish of strict needs the pepper: fail before building
    layout = DataLayout(_data_dir(data_dir))
    console.print(f"Building the warehouse from {layout.root / 'landing'} (target {target}) ...")
    try:
        result = build_warehouse(
            layout,
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
    elif target == "spark":
        console.print(
            f"Spark's tables are in {layout.spark_warehouse} (one folder per table, Parquet);"
            " the serving database was left as it was."
        )


HostOption = Annotated[str, typer.Option(help="Address the web UI listens on.")]
PortOption = Annotated[int, typer.Option(help="Port of the web UI.")]


@app.command()
def ui(
    data_dir: DataDirOption = Path("data"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
) -> None:
    """Start the Dagster UI (and its daemon, so schedules and sensors run) on this data dir."""
    _check_pipeline_settings()
    from cowork_analytics.pipeline import configure_environment
    from ingestion.paths import DataLayout

    layout = DataLayout(_data_dir(data_dir))
    configure_environment(layout.root)
    repository = Path(__file__).resolve().parents[1]
    console.print(f"Dagster UI on http://{host}:{port} for {layout.root} (Ctrl-C stops it).")
    dagster = Path(sys.executable).parent / "dagster"
    # `dagster dev` finds the code location through pyproject.toml's [tool.dagster].
    with contextlib.suppress(KeyboardInterrupt):
        completed = subprocess.run(
            [str(dagster), "dev", "--host", host, "--port", str(port)],
            cwd=repository,
            check=False,
        )
        if completed.returncode not in (0, -2, 130):
            raise typer.Exit(completed.returncode)


@app.command()
def serve(
    data_dir: DataDirOption = Path("data"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3000,
) -> None:
    """Run in production on one machine: the Dagster daemon and web server, until stopped."""
    _check_pipeline_settings()
    from cowork_analytics.pipeline import configure_environment
    from cowork_analytics.services import dagster_commands, supervise
    from ingestion.paths import DataLayout
    from orchestration.lib.environment import skipped_sources

    layout = DataLayout(_data_dir(data_dir))
    configure_environment(layout.root)
    for notice in skipped_sources():
        console.print(f"[yellow]notice[/yellow] {notice}")
    console.print(
        f"Serving {layout.root}: the daemon (hourly pipeline, daily report, new-files sensor)"
        f" and the UI on http://{host}:{port}. SIGTERM or Ctrl-C stops both."
    )
    code = supervise(
        dagster_commands(Path(sys.executable).parent, host, port),
        cwd=Path(__file__).resolve().parents[1],
        on_exit=lambda name, status: console.print(
            f"[red]{name} exited with status {status}; stopping the other[/red]"
        ),
    )
    raise typer.Exit(code)


@app.command()
def run(data_dir: DataDirOption = Path("data")) -> None:
    """Run the whole pipeline job once in this process (land, build, publish)."""
    _check_pipeline_settings()
    layout_root = _data_dir(data_dir)
    # Imported after the checks: Dagster takes seconds to import.
    from cowork_analytics.pipeline import configure_environment
    from ingestion.paths import DataLayout

    layout = DataLayout(layout_root)
    configure_environment(layout.root)
    result = _run_pipeline_logged(layout)
    _print_run(result)
    if not result.success:
        raise typer.Exit(1)
    _print_cost_summary(layout.serving_database)


@app.command()
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
    _check_pipeline_settings()
    layout_root = _data_dir(data_dir)
    # Imported after the checks: Dagster takes seconds to import.
    from cowork_analytics.pipeline import configure_environment
    from ingestion.paths import DataLayout
    from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
    from simulation.generate import generate as run_generation
    from simulation.verify import mart_mismatches

    layout = DataLayout(layout_root)
    # The demo starts from a clean slate; the serving file is replaced atomically later.
    for folder in (
        layout.simulated,
        layout.root / "landing",
        layout.root / "state",
        layout.root / "build",
    ):
        shutil.rmtree(folder, ignore_errors=True)
    console.print(f"Simulating {users} users over {days} days into {layout.simulated} ...")
    generated = run_generation(
        layout.simulated,
        seed=seed,
        users=users,
        days=days,
        end_date=date.fromisoformat(end_date) if end_date else None,
    )
    console.print(
        f"  {generated.events:,} events in {generated.files} collector files "
        f"({generated.bytes / 1e6:,.1f} MB),"
        f" {generated.events_per_second:,.0f} events/s"
    )
    configure_environment(layout.root, [Path(generated.otel_dir)])
    # The organisation's Compliance API side, served by the local emulator for this run.
    emulator = ComplianceEmulator(EmulatorData.load(layout.simulated / "compliance")).start()
    os.environ["ANTHROPIC_COMPLIANCE_BASE_URL"] = emulator.url
    os.environ["ANTHROPIC_COMPLIANCE_API_KEY"] = "sk-ant-api01-demo-emulator-key"
    console.print(f"Compliance API emulator serving the same organisation on {emulator.url}")
    console.print("Running the pipeline job (land OTel, pull Compliance, dbt build, publish) ...")
    try:
        result = _run_pipeline_logged(layout)
    finally:
        emulator.stop()
    _print_run(result)
    if not result.success:
        raise typer.Exit(1)
    mismatches = mart_mismatches(layout.serving_database, layout.simulated / "ground_truth")
    if mismatches:
        console.print(
            f"[red]The marts differ from the ground truth in {len(mismatches)} place(s)[/red]"
        )
        for problem in mismatches[:10]:
            console.print(f"  {problem}")
        raise typer.Exit(1)
    console.print("[green]Every mart matches the generator's ground truth exactly.[/green]")
    _print_cost_summary(layout.serving_database)
    console.print(f"\nLanded Parquet:   {layout.otel_events}", soft_wrap=True)
    console.print(f"Build database:   {layout.build_database}", soft_wrap=True)
    console.print(
        f"Serving database: {layout.serving_database}  (schema marts, open it read-only)",
        soft_wrap=True,
    )
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s.")
    _write_demo_report(layout.serving_database, date.fromisoformat(generated.end_date))


report_app = typer.Typer(help="Reports on the published marts.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("cost")
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
    layout = DataLayout(_data_dir(data_dir))
    if not layout.serving_database.exists():
        raise UserError(
            f"No serving database at {layout.serving_database}: run `cowork-analytics build`"
            " (or `run`) first."
        )
    _write_cost_report(layout.serving_database, period)


def _write_cost_report(serving_database: Path, period) -> Path:
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


def _write_demo_report(serving_database: Path, end_date: date) -> None:
    """The demo's last step: the cost report of the simulated period's (last) month."""
    from reporting.periods import month_of

    html = _write_cost_report(serving_database, month_of(end_date))
    console.print(f"Cost report: {html}", soft_wrap=True)


@app.command()
def forget(
    user: Annotated[
        str,
        typer.Option("--user", help="The person's e-mail, account id, account uuid or user_key."),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = Path("data"),
) -> None:
    """Erase one person's landed and derived data (an erasure request), then rebuild."""
    from ingestion.erasure import PersonNotFoundError, forget_person
    from ingestion.paths import DataLayout

    layout = DataLayout(_data_dir(data_dir))
    if not yes:
        typer.confirm(
            "Erase every landed record, mart row and export of this person and rebuild the"
            " warehouse? This cannot be undone",
            abort=True,
        )
    try:
        summary = forget_person(layout, user)
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


alerts_app = typer.Typer(
    help="Alerts to the webhook (COWORK_ALERT_WEBHOOK_URL).", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("send")
def alerts_send(
    data_dir: DataDirOption = Path("data"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send and record nothing.")
    ] = False,
) -> None:
    """Send the alerts the published marts call for (each once); print what was sent."""
    from alerting.deliver import webhook_url
    from alerting.run import NOT_CONFIGURED_NOTICE, send_detected_alerts
    from ingestion.paths import DataLayout

    layout = DataLayout(_data_dir(data_dir))
    if not layout.serving_database.exists():
        raise UserError(f"No serving database at {layout.serving_database}: build first.")
    if webhook_url() is None and not dry_run:
        console.print(f"[yellow]{NOT_CONFIGURED_NOTICE}[/yellow]")
    summary = send_detected_alerts(layout.root, dry_run=dry_run)
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
