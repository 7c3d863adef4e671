"""Where and when a benchmark ran: the first fields of every benchmark's results file."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def run_facts() -> dict[str, str]:
    """Date, machine (cores, memory), Python and the commit measured."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {memory / 2**30:.0f} GiB, {platform.machine()}",
        "python": sys.version.split()[0],
        "git_commit": commit,
    }
