"""Payload formatting, the dedup store, telemetry rules and the run-failure sensor."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb

from alerting.alerts import Alert, AlertKind, Severity
from alerting.detect import DetectionSettings, billed_cost_alerts, telemetry_alerts
from alerting.runs import check_failed_alert, run_failed_alert, run_link
from alerting.slack import HEADER_LIMIT, slack_payload
from alerting.store import AlertStore
from configuration.settings import Settings

ALERT = Alert(
    AlertKind.BUDGET,
    "budget:R&D <core>:2026-03:over",
    Severity.HIGH,
    "Budget exceeded: R&D <core> " + "x" * 200,
    "R&D is over by $5.00",
    (("Team", "R&D <core>"), ("Budget", "$10.00")),
    "https://reports.example.com/cost-2026-03.html",
    "Cost report",
)


def test_the_payload_has_text_blocks_and_fields_escaped() -> None:
    payload = slack_payload(ALERT)
    assert payload["text"].startswith("[high] Budget exceeded: R&D <core>")
    header, section, fields, context = payload["blocks"]
    assert header["type"] == "header" and len(header["text"]["text"]) == HEADER_LIMIT
    assert "R&amp;D is over" in section["text"]["text"]
    assert fields["fields"][0]["text"] == "*Team*\nR&amp;D &lt;core&gt;"
    assert context["elements"][0]["text"].startswith(
        "<https://reports.example.com/cost-2026-03.html|Cost report>"
    )
    assert "key `budget:R&amp;D &lt;core&gt;:2026-03:over`" in context["elements"][0]["text"]
    json.dumps(payload)  # serialisable as is


def test_secrets_are_redacted_from_every_part() -> None:
    alert = run_failed_alert(
        "0123456789abcdef",
        "cowork_pipeline",
        "401 with x-api-key sk-ant-api01-AbC_dEf-123 at https://hooks.slack.com/services/T/B/X\n"
        "second line with the prompt text",
        ["serving__warehouse"],
    )
    raw = json.dumps(slack_payload(alert))
    assert "sk-ant-api01" not in raw and "hooks.slack.com" not in raw
    assert "[redacted]" in raw and "second line" not in raw  # first line only
    assert "/runs/0123456789abcdef" in raw


def test_links_follow_cowork_dagster_url() -> None:
    assert run_link("abc") == "http://127.0.0.1:3000/runs/abc"
    url = Settings.from_environment({"COWORK_DAGSTER_URL": "https://dagster.example.com/"})
    alert = check_failed_alert(
        "otel/events", "quarantine_rate", date(2026, 3, 18), "abc", None, url.dagster_url
    )
    assert alert.key == "check_failed:otel/events:quarantine_rate:2026-03-18"
    assert alert.link == "https://dagster.example.com/runs/abc"


def test_the_store_sends_once_and_keeps_failures_for_a_retry(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "state" / "alerts.sqlite")
    payload = slack_payload(ALERT)
    store.record(ALERT.key, "budget", ALERT.title, False, 3, "HTTP 503", payload)
    assert not store.was_sent(ALERT.key)
    assert store.pending() == [(ALERT.key, "budget", ALERT.title, payload)]
    store.record(ALERT.key, "budget", ALERT.title, True, 1, None, payload)
    stored = store.get(ALERT.key)
    assert store.was_sent(ALERT.key) and stored.attempts == 4 and stored.last_error is None
    assert store.pending() == []
    first = stored.first_sent_at
    store.record(ALERT.key, "budget", ALERT.title, True, 1, None, payload)
    assert store.get(ALERT.key).first_sent_at == first
    # Reopening keeps the rows and the schema version.
    reopened = AlertStore(tmp_path / "state" / "alerts.sqlite")
    assert [row.key for row in reopened.all()] == [ALERT.key]


def _health(tmp_path: Path, rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "serving.duckdb"))
    connection.execute("create schema marts")
    connection.execute(
        "create table marts.fct_telemetry_health (source varchar, activity_date date,"
        " events bigint, sequence_gap_events bigint, unknown_event_names bigint)"
    )
    connection.executemany("insert into marts.fct_telemetry_health values (?, ?, ?, ?, ?)", rows)
    return connection


def test_telemetry_silent_and_degraded(tmp_path: Path) -> None:
    connection = _health(
        tmp_path,
        [
            ("otel:cowork", date(2026, 3, 10), 500, 0, 0),  # silent since the 10th
            ("otel:claude_code", date(2026, 3, 17), 900, 0, 0),
            ("otel:claude_code", date(2026, 3, 18), 900, 30, 0),  # 3.2 % missing
            ("compliance_api", date(2026, 3, 18), 40, 10, 10),  # too few events to judge
        ],
    )
    alerts = telemetry_alerts(connection, date(2026, 3, 18), DetectionSettings())
    assert [alert.key for alert in alerts] == [
        "telemetry:otel:claude_code:2026-03-18:degraded",
        "telemetry:otel:cowork:2026-03-10:silent",
    ]
    assert "3.2% of records missing" in alerts[0].text


def test_billed_cost_diverging_beyond_both_thresholds_alerts_once_per_day_and_product(
    tmp_path: Path,
) -> None:
    """Default thresholds 5 % and $10: both must be passed; a provisional bill is medium."""
    connection = duckdb.connect(str(tmp_path / "serving.duckdb"))
    connection.execute("create schema marts")
    connection.execute(
        "create table marts.fct_cost_reconciliation_daily (cost_date date, product varchar,"
        " model varchar, reported_cost_usd decimal(38, 12), billed_cost_usd decimal(38, 12),"
        " reason varchar, is_provisional boolean)"
    )
    day, earlier = date(2026, 3, 17), date(2026, 3, 10)
    connection.executemany(
        "insert into marts.fct_cost_reconciliation_daily values (?, ?, ?, ?, ?, ?, ?)",
        [
            # cowork: $12 over on $100 (12 %, > $10) across two models: an alert.
            (day, "cowork", "claude-opus-5", 60, 70, "telemetry_gap", False),
            (day, "cowork", "claude-haiku-4-5", 40, 42, "not_in_telemetry", False),
            # claude_code: $11 over on $1,000 (1.1 %): no alert.
            (day, "claude_code", "claude-opus-5", 1000, 1011, "telemetry_gap", False),
            # all products (legacy), $9 on $20 (45 %, < $10): no alert.
            (day, "(all)", "claude-opus-5", 20, 29, "telemetry_gap", False),
            # billed far below reported on a provisional day: an alert, medium.
            (day, "chat", "claude-opus-5", 300, 250, "provisional", True),
            # the unattributed remainder has no product to compare with.
            (day, "(unattributed)", "(unattributed)", 0, 500, "unattributed", False),
            # a day no billing pull covered is not a divergence; nor one before the window.
            (day, "other", "claude-opus-5", 500, None, "no_billed_figure", False),
            (earlier, "cowork", "claude-opus-5", 0, 900, "telemetry_gap", False),
        ],
    )
    alerts = billed_cost_alerts(connection, date(2026, 3, 15), DetectionSettings())
    assert [(alert.key, alert.severity) for alert in alerts] == [
        ("billing:2026-03-17:chat", Severity.MEDIUM),
        ("billing:2026-03-17:cowork", Severity.HIGH),
    ]
    chat, cowork = alerts
    assert "$250.00" in chat.text and "$300.00" in chat.text and "-16.7%" in chat.text
    assert "provisional bill" in chat.text
    assert "telemetry lost" in cowork.text and "web search" in cowork.text
    stricter = DetectionSettings(billed_divergence_ratio=Decimal("0.01"), billed_divergence_usd=5)
    keys = [alert.key for alert in billed_cost_alerts(connection, date(2026, 3, 15), stricter)]
    assert keys == [
        "billing:2026-03-17:(all)",
        "billing:2026-03-17:chat",
        "billing:2026-03-17:claude_code",
        "billing:2026-03-17:cowork",
    ]


def test_the_failure_sensor_alerts_on_the_run_and_its_failed_checks(tmp_path: Path) -> None:
    from orchestration.defs.alerts.sensors import alert_on_run_failure, failed_run_alerts
    from orchestration.defs.resources import SettingsResource

    @dg.asset(check_specs=[dg.AssetCheckSpec("always_fails", asset="checked")])
    def checked() -> dg.MaterializeResult:
        failed = dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)
        return dg.MaterializeResult(check_results=[failed])

    @dg.asset(deps=[checked])
    def broken() -> None:
        raise RuntimeError("boom sk-ant-api01-secret")

    with dg.instance_for_test() as instance:
        result = dg.materialize([checked, broken], instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        alerts = failed_run_alerts(instance, run, "Execution of run failed.")
        today = datetime.now(UTC).date()
        assert [alert.key for alert in alerts] == [
            f"run_failed:{run.run_id}",
            f"check_failed:checked:always_fails:{today}",
        ]
        assert ("Failed steps", "broken") in alerts[0].fields
        failure = next(event for event in result.all_events if event.is_run_failure)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
        ).for_run_failure()
        settings = SettingsResource(data_dir=str(tmp_path))  # no webhook configured
        skipped = alert_on_run_failure(context, settings=settings)
        assert "COWORK_ALERT_WEBHOOK_URL is not set" in skipped.skip_message
