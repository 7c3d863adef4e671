"""End to end: the planted organisation's marts, a local webhook receiver, repeated passes.

The organisation (tests/conftest.py `planted_org`, 12 people, 12 February to 18 March 2026)
carries a planted cost spike on 17 March, which also pushes its team (Legal) over budget,
and its seed makes one person read `~/.ssh/id_rsa` on 18 March. Detection runs "now" = the
end of the simulated period, so telemetry is fresh.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from alerting import run as alert_run
from alerting.deliver import WebhookSender
from alerting.run import send_detected_alerts
from alerting.store import AlertStore, store_path
from simulation.behaviour import PROMPTS, SENSITIVE_PATHS
from tests.support.organisations import BuiltOrganisation
from tests.support.receiver import Receiver, dead_url, key_of

NOW = datetime(2026, 3, 18, 23, 59, tzinfo=UTC)
SECRET = "s3cretWebhookToken"


@pytest.fixture
def data_dir(planted_org: BuiltOrganisation, tmp_path: Path) -> Path:
    """A data dir of its own holding a copy of the planted organisation's serving file."""
    serving = tmp_path / "data" / "serving" / "warehouse.duckdb"
    serving.parent.mkdir(parents=True)
    shutil.copy(planted_org.serving_database, serving)
    return tmp_path / "data"


def _truth(planted_org: BuiltOrganisation, name: str) -> list[dict[str, str]]:
    with (planted_org.ground_truth / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def expected_keys(planted_org: BuiltOrganisation, serving: Path) -> set[str]:
    """The alerts the organisation calls for, from its ground truth where it has one."""
    (spike,) = _truth(planted_org, "planted_anomalies")
    seed = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "team_budgets.csv"
    with seed.open() as handle:
        budgets = {
            row["team_name"]: Decimal(row["monthly_budget_usd"]) for row in csv.DictReader(handle)
        }
    march: dict[str, Decimal] = defaultdict(Decimal)
    for row in _truth(planted_org, "team_daily"):
        if row["usage_date"].startswith("2026-03"):
            march[row["team_name"]] += Decimal(row["cost_usd"])
    over = {team for team, spend in march.items() if team in budgets and spend > budgets[team]}
    with duckdb.connect(str(serving), read_only=True) as connection:
        (user_key,) = connection.execute(
            "select user_key from marts.dim_users where user_account_id = ?",
            [spike["user_account_id"]],
        ).fetchone()
        # The month-end forecast is the mart's own model (unit-tested in dbt), not planted.
        forecast = {
            team
            for (team,) in connection.execute(
                "select team_name from marts.fct_team_cost_monthly where month = '2026-03-01'"
                " and is_forecast_over_budget and not is_over_budget"
            ).fetchall()
        }
        (signal_id,) = connection.execute(
            "select signal_id from marts.fct_security_signals where severity = 'high'"
            " and activity_date >= '2026-03-15'"
        ).fetchone()
    assert over == {spike["team_name"]}  # the spike's team, and only it, is over budget
    return {
        f"anomaly:user|{user_key}|{spike['usage_date']}",
        f"anomaly:team|{spike['team_name']}|{spike['usage_date']}",
        *(f"budget:{team}:2026-03:over" for team in over),
        *(f"budget:{team}:2026-03:forecast" for team in forecast),
        f"security:{signal_id}",
    }


def _sender(url: str, **options: object) -> WebhookSender:
    return WebhookSender(url, backoff_base=0.01, **options)


def test_the_planted_alerts_arrive_exactly_once_across_runs(
    planted_org: BuiltOrganisation, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    expected = expected_keys(planted_org, data_dir / "serving" / "warehouse.duckdb")
    with Receiver() as receiver:
        url = receiver.url()
        first = send_detected_alerts(data_dir, now=NOW, sender=_sender(url))
        second = send_detected_alerts(data_dir, now=NOW, sender=_sender(url))
        third = send_detected_alerts(data_dir, now=NOW, sender=_sender(url))
    keys = receiver.delivered_keys()
    assert sorted(keys) == sorted(expected)  # each exactly once, nothing else
    assert set(first.sent) == expected and not first.failed
    assert second.sent == third.sent == [] and set(third.already_sent) == expected
    assert {key.split(":")[0] for key in keys} == {"anomaly", "budget", "security"}
    bodies = {key_of(body): body for body in receiver.delivered()}
    security = next(body for key, body in bodies.items() if key.startswith("security:"))
    assert any(path in json.dumps(security) for path in SENSITIVE_PATHS)
    anomaly = bodies[next(key for key in expected if key.startswith("anomaly:user"))]
    assert "claude-opus-4-1" in anomaly["text"]  # the driver: the spike's legacy model
    assert "@example.com" in json.dumps(anomaly)  # who (standard privacy: the e-mail)
    assert "cost-2026-03.html" in json.dumps(bodies["budget:Legal:2026-03:over"])
    raw = json.dumps([body for _, _, body in receiver.requests])
    assert not any(prompt in raw for prompt in PROMPTS)
    assert SECRET not in raw and SECRET not in caplog.text
    assert all(
        path == "/services/T0001/B0002/s3cretWebhookToken" for _, path, _ in receiver.requests
    )


def test_a_failing_receiver_gets_each_alert_once_after_retries(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []
    with Receiver(script=[500, 500, 429], headers={"retry-after": "2"}) as receiver:
        summary = send_detected_alerts(
            data_dir, now=NOW, sender=_sender(receiver.url(), sleep=waits.append)
        )
    delivered = receiver.delivered_keys()
    assert sorted(delivered) == sorted(set(delivered)) and len(delivered) == summary.detected
    assert not summary.failed
    assert [status for status, _, _ in receiver.requests[:4]] == [500, 500, 429, 200]
    assert waits[:2] == [0.01, 0.02] and waits[2] >= 2.0  # backoff, then Retry-After
    first = key_of(receiver.requests[0][2])
    stored = AlertStore(store_path(data_dir)).get(first)
    assert stored is not None and stored.attempts == 4 and stored.first_sent_at
    assert SECRET not in caplog.text


def test_a_receiver_that_is_down_fails_nothing_and_gets_the_alerts_next_time(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    down = send_detected_alerts(data_dir, now=NOW, sender=_sender(dead_url(), max_attempts=2))
    assert down.sent == [] and len(down.failed) == down.detected > 0
    assert all("connection failed" in error for error in down.failed.values())
    assert "127.0.0.1" in caplog.text and SECRET not in caplog.text
    with Receiver() as receiver:
        up = send_detected_alerts(data_dir, now=NOW, sender=_sender(receiver.url()))
        again = send_detected_alerts(data_dir, now=NOW, sender=_sender(receiver.url()))
    assert sorted(receiver.delivered_keys()) == sorted(down.failed)
    assert set(up.sent) == set(down.failed) and again.sent == []


def test_the_pipeline_asset_succeeds_when_delivery_fails(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from configuration.settings import Settings
    from orchestration.defs.alerts.assets import alert_deliveries
    from orchestration.defs.resources import SettingsResource

    # As in production: the URL comes from the environment, and the resource keeps only
    # the variable's name (dg.EnvVar), which Dagster reads when the step runs.
    webhook = {"COWORK_ALERT_WEBHOOK_URL": dead_url()}
    monkeypatch.setenv("COWORK_ALERT_WEBHOOK_URL", webhook["COWORK_ALERT_WEBHOOK_URL"])
    settings = Settings.from_environment({"COWORK_DATA_DIR": str(data_dir), **webhook})
    monkeypatch.setattr(
        alert_run, "WebhookSender", functools.partial(WebhookSender, backoff_base=0.01)
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [alert_deliveries],
            resources={"settings": SettingsResource.from_settings(settings)},
            instance=instance,
        )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("alerts__deliveries")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    # "Now" is today, months after the simulated period: its sources are silent.
    assert metadata["failed"] > 0 and metadata["sent"] == 0
    assert metadata["webhook_host"].startswith("127.0.0.1:")
    assert SECRET not in json.dumps(metadata, default=str)


def test_without_a_webhook_nothing_is_sent_or_recorded(data_dir: Path) -> None:
    summary = send_detected_alerts(data_dir, now=NOW)
    assert not summary.configured and summary.sent == [] and summary.would_send
    assert AlertStore(store_path(data_dir)).all() == []
