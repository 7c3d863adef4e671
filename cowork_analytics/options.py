"""What the commands share: the console, the data directory option and the up-front checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingestion.errors import ConfigurationError

console = Console()

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="COWORK_DATA_DIR",
        help="Data directory (landing, state, build, serving).",
    ),
]
HostOption = Annotated[str, typer.Option(help="Address the web UI listens on.")]
PortOption = Annotated[int, typer.Option(help="Port of the web UI.")]


def check_data_dir(root: Path) -> None:
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


def resolve_data_dir(path: Path) -> Path:
    """The data directory of a command, checked and exported as `COWORK_DATA_DIR`."""
    resolved = path.expanduser().resolve()
    check_data_dir(resolved)
    os.environ["COWORK_DATA_DIR"] = str(resolved)
    return resolved


def check_privacy(value: str | None = None) -> None:
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


def check_pipeline_settings() -> None:
    """Fail before anything runs on a privacy, pepper or retention setting the run would reject.

    The pipeline's steps read these settings themselves; checked here, a bad one ends the
    command in one line instead of a failed step after minutes of work.
    """
    from governance.retention import retention_from_environment

    check_privacy()
    retention_from_environment()
