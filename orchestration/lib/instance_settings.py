"""Upgrade a Dagster home's instance settings (`dagster.yaml`) written by an older release.

Before issue 16, deploy/dagster/dagster.yaml selected our own event log storage
(`orchestration.lib.pool_storage`, a subclass of Dagster's private SQLite storage), since
removed: a Dagster home set up then still names it, and no Dagster process would start on
it. That storage kept Dagster's default folder (`history/runs`), so dropping its block keeps
the run history. Every cowork-analytics command does this when it configures a data
directory; for a home only the systemd units use, run once, with its `DAGSTER_HOME` set:
`.venv/bin/python -m orchestration.lib.instance_settings`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REMOVED_STORAGE_MODULE = "orchestration.lib.pool_storage"
BLOCK = "event_log_storage:"
NOTE = (
    "# event_log_storage: removed by cowork-analytics (it named orchestration.lib.pool_storage,"
    " no longer shipped);\n# Dagster's default SQLite storage reads the same history/runs.\n"
)


def drop_removed_event_log_storage(settings: Path) -> bool:
    """Remove the top-level `event_log_storage` block that names the removed module.

    Everything else in the file stays as it was; the previous file is kept beside it as
    `dagster.yaml.before-upgrade`.

    Args:
        settings: a Dagster home's `dagster.yaml` (it may not exist).

    Returns:
        Whether the file was rewritten.
    """
    if not settings.is_file():
        return False
    lines = settings.read_text().splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.startswith(BLOCK)), None)
    if start is None:
        return False
    end = next(
        (n for n in range(start + 1, len(lines)) if lines[n].strip() and not lines[n][0].isspace()),
        len(lines),
    )
    if REMOVED_STORAGE_MODULE not in "".join(lines[start:end]):
        return False  # someone's own storage (e.g. PostgreSQL's): not ours to touch
    backup = settings.with_name(settings.name + ".before-upgrade")
    backup.write_text("".join(lines))
    temporary = settings.with_name(settings.name + ".tmp")
    temporary.write_text("".join([*lines[:start], NOTE, *lines[end:]]))
    temporary.replace(settings)
    return True


if __name__ == "__main__":
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        sys.exit("DAGSTER_HOME is not set: nothing to upgrade")
    path = Path(home) / "dagster.yaml"
    changed = drop_removed_event_log_storage(path)
    sys.stderr.write(f"{path}: {'upgraded' if changed else 'nothing to upgrade'}\n")
