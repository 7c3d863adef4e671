"""Start a landing run when the collector writes new files or appends to existing ones."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from ingestion.otel.land import discover_files
from orchestration.defs.jobs import otel_landing_job
from orchestration.defs.resources import SettingsResource

# Tags Dagster sets on a sensor's runs and on a failed run its run retries will re-execute
# (a re-execution keeps the run key, so the newest run under a key is its last attempt).
RUN_KEY_TAG = "dagster/run_key"
WILL_RETRY_TAG = "dagster/will_retry"
ENDED_UNLANDED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


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


def _read_cursor(cursor: str | None) -> tuple[dict[str, list[int]], str | None]:
    """The files seen and the run key last requested for them.

    A cursor written before run keys were kept is the files alone (paths are absolute, so
    none is named "files").
    """
    stored = json.loads(cursor) if cursor else {}
    if "files" not in stored:
        return stored, None
    return stored["files"], stored.get("requested")


def _cursor(state: dict[str, list[int]], requested: str | None) -> str:
    return json.dumps({"files": state, "requested": requested}, sort_keys=True)


def _run_key(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]


def _failed_landing(instance: dg.DagsterInstance, run_key: str) -> dg.DagsterRun | None:
    """The last run under `run_key` if it ended without landing and nothing will retry it."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    if not runs or runs[0].status not in ENDED_UNLANDED:
        return None
    return None if runs[0].tags.get(WILL_RETRY_TAG) == "true" else runs[0]


@dg.sensor(
    job=otel_landing_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def new_otel_files(context: dg.SensorEvaluationContext, settings: SettingsResource):
    """Requests a landing run when a file under COWORK_OTEL_DIR is new or has grown.

    The cursor only says what was seen and which run was asked to land it; what was landed
    is in the manifest, written by the run itself, so a lost or repeated request never lands
    a byte twice or skips one. A run that ended without landing (failed or canceled, and
    not to be re-executed by Dagster's run retries) is asked again on the next tick, under
    a key of its own (the failed run holds the old one), until a run lands the files; once
    they grow, the new request lands everything not landed before.
    """
    state = snapshot(list(settings.settings().otel_dirs))
    previous, requested = _read_cursor(context.cursor)
    changed = sorted(path for path, seen in state.items() if previous.get(path) != seen)
    if changed:
        run_key, tags = _run_key(state), {"otel/changed_files": str(len(changed))}
    else:
        failed = _failed_landing(context.instance, requested) if requested else None
        if failed is None:
            context.update_cursor(_cursor(state, requested))
            return dg.SkipReason("no new or grown OTel files")
        # Derived from the failed run: a tick re-evaluated after a crash asks the same again.
        run_key, tags = _run_key([state, failed.run_id]), {"otel/retry_of": failed.run_id}
    context.update_cursor(_cursor(state, run_key))
    return dg.RunRequest(run_key=run_key, tags=tags)
