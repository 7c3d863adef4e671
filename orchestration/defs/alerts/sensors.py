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
from alerting.deliver import webhook_url
from alerting.run import NOT_CONFIGURED_NOTICE, send_alerts
from alerting.runs import check_failed_alert, run_failed_alert
from orchestration.lib import environment


def failed_check_alerts(instance: DagsterInstance, run_id: str) -> list[Alert]:
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
            )
        )
    return alerts


def failed_run_alerts(instance: DagsterInstance, run: dg.DagsterRun, message: str) -> list[Alert]:
    """The run's `run_failed` alert, with its failed steps, and its failed checks."""
    steps = [
        entry.step_key
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        if entry.step_key
    ]
    return [
        run_failed_alert(run.run_id, run.job_name, message, steps),
        *failed_check_alerts(instance, run.run_id),
    ]


def _send(context: dg.RunStatusSensorContext, alerts: list[Alert]) -> dg.SkipReason | None:
    if not alerts:
        return None
    if webhook_url() is None:
        return dg.SkipReason(NOT_CONFIGURED_NOTICE)
    summary = send_alerts(alerts, environment.data_dir())
    for key, error in summary.failed.items():
        context.log.warning(f"alert {key} not delivered ({error}); retried on the next event")
    return None


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Send a run_failed alert (and the run's failed ERROR checks) to the webhook.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
    """A failed run: its job, failed steps, error and a link to the run."""
    message = context.failure_event.message or "the run failed"
    return _send(context, failed_run_alerts(context.instance, context.dagster_run, message))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_failed_checks",
    description="Send check_failed alerts for failed ERROR checks of runs that succeeded.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_failed_checks(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
    """A run that succeeded although an ERROR-severity check failed."""
    return _send(context, failed_check_alerts(context.instance, context.dagster_run.run_id))
