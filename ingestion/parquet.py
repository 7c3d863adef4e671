"""Atomic writes of Parquet and text: readers see a whole file under its name, or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.crash import crash_point

COMPRESSION = "zstd"


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_parquet_atomically(table: pa.Table, path: Path, mode: int | None = None) -> Path:
    """Write `table` to `path` via a temporary name, fsync, then rename over any old file.

    A crash leaves either the previous file or the new one, never a partial one, and a
    rerun with the same name replaces the file instead of adding a copy. `mode` sets the
    file's permissions before it becomes visible (0o600 for restricted content).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle, compression=COMPRESSION, write_statistics=True)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            temporary.chmod(mode)
        crash_point("before_parquet_rename")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return path


def write_lines_atomically(path: Path, lines: list[str], mode: int = 0o600) -> Path:
    """Write `lines` to `path` via a temporary owner-only file, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    # Created with its final mode: the content is never readable by others, even briefly.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.writelines(line + "\n" for line in lines)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return path
