"""The `cowork-analytics` command line: the app, its error handling, and its commands.

Each command group lives in its own module under `cowork_analytics/commands/`.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from configuration.errors import UserError
from cowork_analytics.commands import (
    alerts,
    erasure,
    ingest,
    pipeline,
    report,
    simulation,
    warehouse,
)

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
app.add_typer(ingest.app, name="ingest")
app.add_typer(report.app, name="report")
app.add_typer(alerts.app, name="alerts")
app.command()(simulation.generate)
app.command("compliance-emulator")(simulation.compliance_emulator)
app.command()(warehouse.build)
app.command()(pipeline.run)
app.command()(pipeline.demo)
app.command()(pipeline.ui)
app.command()(pipeline.serve)
app.command()(erasure.forget)


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
