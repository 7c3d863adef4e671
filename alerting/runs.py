"""Alerts about pipeline runs: a failed run, a failed ERROR-severity asset check."""

from __future__ import annotations

from datetime import date

from alerting.alerts import Alert, AlertKind, Severity
from alerting.slack import redact
from configuration.settings import DEFAULT_DAGSTER_URL

MESSAGE_LIMIT = 300


def run_link(run_id: str, dagster_url: str = DEFAULT_DAGSTER_URL) -> str:
    """The run's page in the Dagster UI (`Settings.dagster_url`, default the local UI)."""
    return f"{dagster_url.rstrip('/')}/runs/{run_id}"


def _short(message: str) -> str:
    first = redact(message.strip().splitlines()[0] if message.strip() else "no message")
    return first if len(first) <= MESSAGE_LIMIT else first[: MESSAGE_LIMIT - 1] + "…"


def run_failed_alert(
    run_id: str,
    job_name: str,
    message: str,
    failed_steps: list[str] | None = None,
    dagster_url: str = DEFAULT_DAGSTER_URL,
) -> Alert:
    """A run that failed: its job, failed steps and the first line of the error."""
    steps = failed_steps or []
    fields = [("Job", job_name), ("Run", run_id)]
    if steps:
        fields.append(("Failed steps", ", ".join(steps[:5]) + (" …" if len(steps) > 5 else "")))
    fields.append(("Error", _short(message)))
    return Alert(
        AlertKind.RUN_FAILED,
        f"run_failed:{run_id}",
        Severity.HIGH,
        f"Pipeline run failed: {job_name}",
        f"Run {run_id[:8]} of {job_name} failed. Open the run for the step logs; the serving "
        "database is only ever replaced by a build that passed.",
        tuple(fields),
        run_link(run_id, dagster_url),
        "Dagster run",
    )


def check_failed_alert(
    asset: str,
    check: str,
    day: date,
    run_id: str,
    description: str | None = None,
    dagster_url: str = DEFAULT_DAGSTER_URL,
) -> Alert:
    """A failed ERROR-severity asset check; one alert per asset, check and UTC day."""
    fields = [("Asset", asset), ("Check", check), ("Day", str(day)), ("Run", run_id)]
    if description:
        fields.append(("Detail", _short(description)))
    return Alert(
        AlertKind.CHECK_FAILED,
        f"check_failed:{asset}:{check}:{day}",
        Severity.HIGH,
        f"Check failed: {check} on {asset}",
        f"The asset check {check} on {asset} failed with severity ERROR. Open the run for "
        "its metadata.",
        tuple(fields),
        run_link(run_id, dagster_url),
        "Dagster run",
    )
