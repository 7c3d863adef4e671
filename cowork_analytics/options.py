"""What the commands share: the console, the data directory option and the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from configuration.settings import Settings

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


def command_settings(data_dir: Path, **changes: object) -> Settings:
    """The settings of a command: the environment's, read once here, with its options.

    Raises:
        ConfigurationError: one line naming the setting that cannot work (exit status 2),
            before the command does anything.
    """
    return Settings.from_environment().with_changes(data_dir=data_dir, **changes)
