"""Run the pipeline job (land, build, publish) in this process: the job the schedule runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, DagsterInstance


@dataclass(frozen=True)
class PipelineRun:
    """The outcome of one in-process run of the pipeline job."""

    success: bool
    run_id: str
    seconds: float
    step_failures: list[str]
    landing: dict[str, object]
    compliance_records: dict[str, int]


def configure_environment(data_dir: Path, otel_dirs: list[Path] | None = None) -> None:
    """Point the orchestration layer (and dbt, which inherits the environment) at a data dir."""
    data_dir = data_dir.resolve()
    os.environ["COWORK_DATA_DIR"] = str(data_dir)
    if otel_dirs:
        os.environ["COWORK_OTEL_DIR"] = os.pathsep.join(str(path.resolve()) for path in otel_dirs)
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = dagster_home / "dagster.yaml"
    if not settings.exists():
        # Pools (the Compliance API budget) admit one step at a time unless a user says
        # otherwise here.
        settings.write_text(
            "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"
        )


def run_pipeline(log_level: str = "WARNING") -> PipelineRun:
    """Execute the `cowork_pipeline` job once, in process, against the configured environment.

    Args:
        log_level: level of the run's console log (the full log is in the Dagster instance).
    """
    # Imported here so that the definitions see the environment configured just before.
    from orchestration.definitions import build_definitions
    from orchestration.defs.jobs import PIPELINE_JOB_NAME

    started = time.perf_counter()
    job = build_definitions().resolve_job_def(PIPELINE_JOB_NAME)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    failures = [
        f"{event.step_key}: {event.event_specific_data.error.message.strip()}"
        for event in result.all_events
        if event.is_step_failure
    ]
    landing, compliance = {}, {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == AssetKey(["otel", "events"]):
            landing = {key: value.value for key, value in materialization.metadata.items()}
        elif materialization.asset_key.path[0] == "compliance_api":
            compliance[materialization.asset_key.path[-1]] = materialization.metadata[
                "records"
            ].value
    seconds = time.perf_counter() - started
    return PipelineRun(result.success, result.run_id, seconds, failures, landing, compliance)
