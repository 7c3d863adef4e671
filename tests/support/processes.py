"""Process trees from /proc: what a command started, and whether any of it still runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    """One process, told from a later one that reuses its id by its start time."""

    pid: int
    started: int  # clock ticks after boot (`/proc/<pid>/stat` field 22)
    command: str

    def running(self) -> bool:
        """Whether this very process still runs (a zombie has ended: only its entry is left)."""
        stat = _stat(self.pid)
        return stat is not None and stat[2] != "Z" and int(stat[21]) == self.started


def _stat(pid: int) -> list[str] | None:
    """The fields of `/proc/<pid>/stat` (the command, which may hold spaces, as one)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name_end = text.rindex(")")
    return [
        text[: text.index(" ")],
        text[text.index("(") + 1 : name_end],
        *text[name_end + 2 :].split(),
    ]


def _command(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def descendants(pid: int) -> set[Process]:
    """Every process below `pid` now: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(int(stat[3]), []).append(int(entry.name))
    found: set[Process] = set()
    waiting = list(children.get(pid, []))
    while waiting:
        child = waiting.pop()
        stat = _stat(child)
        if stat is not None:
            found.add(Process(child, int(stat[21]), _command(child)))
            waiting += children.get(child, [])
    return found
