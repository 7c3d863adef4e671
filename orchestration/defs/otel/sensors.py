"""Start a landing run when the collector writes new files or appends to existing ones."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from ingestion.otel.land import discover_files
from orchestration.defs.jobs import otel_landing_job
from orchestration.defs.resources import SettingsResource


def snapshot(folders: list[Path]) -> dict[str, list[int]]:
    """Size and modification time of every input file."""
    state = {}
    for path in discover_files([folder for folder in folders if folder.exists()]):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # rotated away since listed; the next tick sees its new name
        state[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return state


@dg.sensor(
    job=otel_landing_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def new_otel_files(context: dg.SensorEvaluationContext, settings: SettingsResource):
    """Requests a landing run when a file under COWORK_OTEL_DIR is new or has grown.

    The cursor only says what was seen; what was landed is in the manifest, written by the
    run itself, so a lost or repeated request never lands a byte twice or skips one.
    """
    state = snapshot(list(settings.settings().otel_dirs))
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(path for path, seen in state.items() if previous.get(path) != seen)
    context.update_cursor(json.dumps(state, sort_keys=True))
    if not changed:
        return dg.SkipReason("no new or grown OTel files")
    run_key = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32]
    return dg.RunRequest(run_key=run_key, tags={"otel/changed_files": str(len(changed))})
