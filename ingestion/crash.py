"""Named crash points, so tests can SIGKILL a real landing process at an exact step.

Set `COWORK_TEST_CRASH_AT=<point>` (and optionally `COWORK_TEST_CRASH_AFTER=<n>` to crash
on the n-th time the point is reached); unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_REACHED: Counter[str] = Counter()
_IN_WORKER = False


def mark_worker() -> None:
    """Say that this process is a landing worker: its crash kills the whole run."""
    global _IN_WORKER
    _IN_WORKER = True


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if a test asked to crash here."""
    if os.environ.get("COWORK_TEST_CRASH_AT") != name:
        return
    _REACHED[name] += 1
    if _REACHED[name] >= int(os.environ.get("COWORK_TEST_CRASH_AFTER", "1")):
        if _IN_WORKER:
            os.kill(os.getppid(), signal.SIGKILL)  # a worker process: the whole run dies
        os.kill(os.getpid(), signal.SIGKILL)
