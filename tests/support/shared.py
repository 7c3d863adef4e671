"""Directories built once per test session and shared by every xdist worker.

`make unit` runs two xdist workers, each with its own session fixtures: a session fixture
alone would build a warehouse once per worker. Here the first worker to ask builds it into
the run's shared temporary folder under a file lock; the other waits for it and reuses it.

A shared directory is read-only to its users: a test that changes a warehouse copies the
data directory (`shutil.copytree`, a fraction of a second) instead of rebuilding it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = ".built"


def run_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this whole run: the workers' parent folder under xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_directory(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """`<run folder>/shared/<name>`, filled by `build` once per run.

    A build that raised leaves no completion marker: the next user builds again (and fails
    in its own test, with its own error).
    """
    folder = run_temporary_folder(tmp_path_factory) / "shared" / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / DONE).exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                build(folder)
                (folder / DONE).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder
