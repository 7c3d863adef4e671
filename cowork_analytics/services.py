"""Run the Dagster daemon and web server side by side, as one service (`cowork-analytics serve`).

Each runs in a child process; this process only watches them. SIGTERM or Ctrl-C stops both
(each gets SIGTERM, then SIGKILL after a grace period), and if either exits on its own the
other is stopped too and the exit code is passed on, so a service manager (systemd's
`Restart=on-failure`) restarts the pair instead of running half of it.
"""

from __future__ import annotations

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


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
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
    processes = {
        name: subprocess.Popen(command, cwd=cwd, env=env) for name, command in commands.items()
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
