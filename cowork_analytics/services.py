"""Run the Dagster daemon and web server side by side, as one service (`cowork-analytics serve`).

Each runs in a child process; this process only watches them. SIGTERM or Ctrl-C stops both
(each gets SIGTERM, then SIGKILL after a grace period), and if either exits on its own the
other is stopped too and the exit code is passed on, so a service manager (systemd's
`Restart=on-failure`) restarts the pair instead of running half of it.

Each child leads a process group of its own, and stopping one signals its whole group: the
Dagster processes start others (code servers, `dagster dev`'s web server and daemon), which
a signal to the child alone would leave running once it is gone. `cowork-analytics ui`
supervises `dagster dev` the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

STOP_GRACE_SECONDS = 60


def dagster_commands(bin_dir: Path, host: str, port: int) -> dict[str, list[str]]:
    """The daemon's and the web server's command lines for our code location."""
    location = ["-m", "orchestration.definitions"]
    return {
        "dagster-daemon": [str(bin_dir / "dagster-daemon"), "run", *location],
        "dagster-webserver": [
            str(bin_dir / "dagster-webserver"),
            "-h",
            host,
            "-p",
            str(port),
            *location,
        ],
    }


def _signal_group(process: subprocess.Popen, signum: int) -> bool:
    """Send `signum` to the child's process group; whether any process was left in it."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return False
    return True


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to every child's process group; SIGKILL to what still runs after the grace.

    Every process of a group gets SIGTERM at once, as a terminal's Ctrl-C reaches them all,
    so that none waits on another's shutdown (`dagster dev` alone takes over 20 s).
    """
    for process in processes.values():
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        # The child's own children may outlive it: wait for the whole group. Polling reaps
        # the child once it has exited, which takes it out of the group.
        while process.poll() is None or _signal_group(process, 0):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        _signal_group(process, signal.SIGKILL)
        process.wait()


def supervise(
    commands: dict[str, list[str]], cwd: Path, env: dict[str, str] | None = None, on_exit=None
) -> int:
    """Start every command and wait until one exits or this process is told to stop.

    Args:
        commands: name -> command line.
        cwd: the working directory of the children.
        env: the children's environment (default: this process's).
        on_exit: called with (name, exit code) when a child exits on its own.

    Returns:
        0 after a requested stop, else the exit code of the child that stopped first
        (1 if it exited with 0: a service is not meant to end).
    """
    stop_requested = False

    def request_stop(signum, frame) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    # A group of its own (in this session, so the terminal stays theirs): a Ctrl-C reaches
    # this process only, which then stops each group whole.
    processes = {
        name: subprocess.Popen(command, cwd=cwd, env=env, process_group=0)
        for name, command in commands.items()
    }
    try:
        while not stop_requested:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    if on_exit:
                        on_exit(name, code)
                    return code or 1
            time.sleep(0.5)
        return 0
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
