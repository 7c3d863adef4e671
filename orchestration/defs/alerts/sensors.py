"""Alerts about runs: a failed run, and failed ERROR-severity asset checks of any run.

Two run-status sensors share one function. The failure sensor sends `run_failed` plus the
run's failed checks; the success sensor sends the failed checks of runs that succeeded
anyway (a non-blocking check does not fail its run). Checks are read from the run's event
log (`ASSET_CHECK_EVALUATION`): one place, no cursor of our own, and a run's checks are
complete when its status sensor fires.
"""

from datetime import UTC, datetime

import dagster as dg
from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from alerting.alerts import Alert
from alerting.run import NOT_CONFIGURED_NOTICE, send_alerts
from alerting.runs import check_failed_alert, run_failed_alert
from configuration.settings import DEFAULT_DAGSTER_URL, Settings
from orchestration.defs.resources import SettingsResource


def failed_check_alerts(
    instance: DagsterInstance, run_id: str, dagster_url: str = DEFAULT_DAGSTER_URL
) -> list[Alert]:
    """One alert per failed ERROR-severity asset check evaluated in the run."""
    alerts = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.severity != AssetCheckSeverity.ERROR:
            continue
        day = datetime.fromtimestamp(entry.timestamp, UTC).date()
        alerts.append(
            check_failed_alert(
                evaluation.asset_key.to_user_string(),
                evaluation.check_name,
                day,
                run_id,
                getattr(evaluation, "description", None),
                dagster_url,
            )
        )
    return alerts


def failed_run_alerts(
    instance: DagsterInstance,
    run: dg.DagsterRun,
    message: str,
    dagster_url: str = DEFAULT_DAGSTER_URL,
) -> list[Alert]:
    """The run's `run_failed` alert, with its failed steps, and its failed checks."""
    steps = [
        entry.step_key
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        if entry.step_key
    ]
    return [
        run_failed_alert(run.run_id, run.job_name, message, steps, dagster_url),
        *failed_check_alerts(instance, run.run_id, dagster_url),
    ]


def _send(
    context: dg.RunStatusSensorContext, alerts: list[Alert], settings: Settings
) -> dg.SkipReason | None:
    if not alerts:
        return None
    if settings.alert_webhook_url is None:
        return dg.SkipReason(NOT_CONFIGURED_NOTICE)
    summary = send_alerts(alerts, settings.data_dir, url=settings.alert_webhook_url.value)
    for key, error in summary.failed.items():
        context.log.warning(f"alert {key} not delivered ({error}); retried on the next event")
    return None


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Send a run_failed alert (and the run's failed ERROR checks) to the webhook.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext, settings: SettingsResource
) -> dg.SkipReason | None:
    """A failed run: its job, failed steps, error and a link to the run."""
    configured = settings.settings()
    message = context.failure_event.message or "the run failed"
    alerts = failed_run_alerts(
        context.instance, context.dagster_run, message, configured.dagster_url
    )
    return _send(context, alerts, configured)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_failed_checks",
    description="Send check_failed alerts for failed ERROR checks of runs that succeeded.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_failed_checks(
    context: dg.RunStatusSensorContext, settings: SettingsResource
) -> dg.SkipReason | None:
    """A run that succeeded although an ERROR-severity check failed."""
    configured = settings.settings()
    alerts = failed_check_alerts(
        context.instance, context.dagster_run.run_id, configured.dagster_url
    )
    return _send(context, alerts, configured)
