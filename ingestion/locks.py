"""Cross-process locks on a file: exclusive (one writer at a time) or shared, never stale."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _flock(path: Path, mode: int, on_wait: Callable[[], None] | None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def exclusive_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing), waiting for its holder.

    The lock is the operating system's (`flock`): it is released when its holder exits,
    however it exits, so a SIGKILLed process leaves no stale lock behind.

    Args:
        path: the lock file.
        on_wait: called once, before waiting, when another process holds the lock.
    """
    with _flock(path, fcntl.LOCK_EX, on_wait):
        yield


@contextmanager
def shared_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold a shared lock on `path`: many holders at once, none while an exclusive one is held.

    Args:
        path: the lock file.
        on_wait: called once, before waiting, when an exclusive holder keeps it.
    """
    with _flock(path, fcntl.LOCK_SH, on_wait):
        yield
