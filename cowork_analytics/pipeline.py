"""Run the pipeline job (land, build, publish) in this process: the job the schedule runs."""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetCheckSeverity, AssetKey, DagsterEventType, DagsterInstance

from configuration.errors import ConfigurationError
from configuration.settings import Settings
from orchestration.lib.instance_settings import drop_removed_event_log_storage

# The instance settings a data directory's Dagster home starts with: persistent SQLite
# storage, the run queue, one step at a time per pool, run monitoring and retries from the
# failure (see the file's comments). Production installs copy the same file.
DAGSTER_SETTINGS = Path(__file__).resolve().parents[1] / "deploy" / "dagster" / "dagster.yaml"
NAMED_ASSET_GROUPS = ("otel", "compliance_api", "billing", "serving", "reports", "alerts")
HOST_TAG = "cowork/host"
PROCESS_TAG = "cowork/pid"


@dataclass(frozen=True)
class PipelineRun:
    """The outcome of one in-process run of the pipeline job."""

    success: bool
    run_id: str
    seconds: float
    step_failures: list[str]
    landing: dict[str, object]
    compliance_records: dict[str, int]
    materialised: dict[str, int] = field(default_factory=dict)  # asset group -> assets
    checks: dict[str, list[str]] = field(default_factory=dict)  # passed/warned/failed -> names
    published: dict[str, object] = field(default_factory=dict)  # serving metadata
    notices: list[str] = field(default_factory=list)  # sources skipped, and why


def prepare_dagster_home(settings: Settings) -> Path:
    """The Dagster home of `settings` (`DAGSTER_HOME`, else `<data>/dagster`), set up."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    instance_settings = home / "dagster.yaml"
    if not instance_settings.exists():
        shutil.copyfile(DAGSTER_SETTINGS, instance_settings)
    # A home set up by an older release may name an event log storage since removed.
    drop_removed_event_log_storage(instance_settings)
    return home


def open_instance(settings: Settings) -> DagsterInstance:
    """The Dagster instance of `settings`' home (its dagster.yaml), set up if new."""
    return DagsterInstance.from_config(str(prepare_dagster_home(settings)))


def run_pipeline(settings: Settings, log_level: str = "WARNING") -> PipelineRun:
    """Execute the `cowork_pipeline` job once, in process, with `settings`.

    Args:
        settings: the data directory, sources, privacy and keys to run with.
        log_level: level of the run's console log (the full log is in the Dagster instance).
    """
    from orchestration.definitions import build_definitions
    from orchestration.defs.jobs import PIPELINE_JOB_NAME

    started = time.perf_counter()
    job = build_definitions(settings).resolve_job_def(PIPELINE_JOB_NAME)
    with open_instance(settings) as instance:
        release_abandoned_runs(instance)
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags=_process_tags(),
        )
    return _summarise(result, time.perf_counter() - started, settings)


def _process_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PROCESS_TAG: str(os.getpid())}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the CLI runs whose process died, and free every ended run's pool slots.

    Runs started from this CLI execute in its own process, with no daemon watching them: if
    that process is killed, the run stays "started" and keeps its slot of the warehouse
    pool, and every later run would wait for it forever. This is the run monitoring the
    daemon does for the runs it launches, for the runs started here (tagged with host and
    process id).

    Returns:
        The ids of the runs marked failed.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    abandoned = []
    for run_id in storage.get_concurrency_run_ids():
        run = instance.get_run_by_id(run_id)
        if run is None:
            storage.free_concurrency_slots_for_run(run_id)
            continue
        if not run.is_finished:
            tags = run.tags
            if tags.get(HOST_TAG) != socket.gethostname() or PROCESS_TAG not in tags:
                continue  # launched elsewhere: the daemon's run monitoring owns it
            if _process_alive(int(tags[PROCESS_TAG])):
                continue
            instance.report_run_failed(run, message="its process died (killed or crashed)")
            abandoned.append(run_id)
        storage.free_concurrency_slots_for_run(run_id)
    return abandoned


def resume_pipeline(settings: Settings, run_id: str) -> PipelineRun:
    """Re-execute a failed pipeline run from its failure (what the daemon's run retries do).

    Only the steps that failed, or never finished or started, run again; the others' results
    stand. A run of this CLI whose process died is marked failed first (see
    `release_abandoned_runs`); under the daemon, its run monitoring does that.
    """
    from dagster import ReexecutionOptions, build_reconstructable_job, execute_job

    # The steps run in child processes that read every setting but the paths from their
    # environment, as this process's does: settings that differ would be silently dropped.
    paths = {
        "data_dir": settings.data_dir,
        "configured_otel_dirs": settings.configured_otel_dirs,
        "configured_dagster_home": settings.configured_dagster_home,
    }
    if Settings.from_environment().with_changes(**paths) != settings:
        raise ConfigurationError(
            "resume: the run's steps re-read their settings from the environment, and these"
            " settings differ from it beyond the data, collector and Dagster folders"
        )
    started = time.perf_counter()
    # The steps run in child processes, which rebuild the job from these arguments (the
    # paths a command may have changed; secrets they read from their own environment).
    job = build_reconstructable_job(
        "orchestration.definitions",
        "pipeline_job_for",
        reconstructable_kwargs={
            "data_dir": str(settings.data_dir),
            "otel_dirs": [str(path) for path in settings.configured_otel_dirs],
        },
    )
    with open_instance(settings) as instance:
        release_abandoned_runs(instance)
        result = execute_job(
            job,
            instance=instance,
            reexecution_options=ReexecutionOptions.from_failure(run_id, instance),
            raise_on_error=False,
            tags=_process_tags(),
        )
        return _summarise(result, time.perf_counter() - started, settings)


def _summarise(result, seconds: float, settings: Settings) -> PipelineRun:
    failures = [
        f"{event.step_key}: {event.event_specific_data.error.message.strip()}"
        for event in result.all_events
        if event.is_step_failure
    ]
    landing, compliance, published = {}, {}, {}
    materialised: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key
        # Landing, pulls, serving and reports by name; every dbt model and seed as warehouse.
        group = key.path[0] if key.path[0] in NAMED_ASSET_GROUPS else "warehouse"
        materialised[group] = materialised.get(group, 0) + 1
        if key == AssetKey(["otel", "events"]):
            landing = {name: value.value for name, value in materialization.metadata.items()}
        elif key.path[0] == "compliance_api":
            compliance[key.path[-1]] = materialization.metadata["records"].value
        elif key == AssetKey(["serving", "warehouse"]):
            published = {name: value.value for name, value in materialization.metadata.items()}
    checks: dict[str, list[str]] = {"passed": [], "warned": [], "failed": []}
    for event in result.all_events:
        if event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.passed:
            checks["passed"].append(name)
        elif evaluation.severity == AssetCheckSeverity.WARN:
            checks["warned"].append(name)
        else:
            checks["failed"].append(name)
    return PipelineRun(
        result.success,
        result.run_id,
        seconds,
        failures,
        landing,
        compliance,
        materialised,
        checks,
        published,
        settings.skipped_sources(),
    )
