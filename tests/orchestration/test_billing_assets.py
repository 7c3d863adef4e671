"""The billing asset: one materialization per report pulled, one-line failures, skipped sources."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.billing.assets import REPORTS, billing_pull
from orchestration.defs.resources import SettingsResource
from simulation.billing import BillingData
from simulation.billing_emulator import BillingEmulator
from simulation.generate import GenerationResult

ADMIN_KEY = "sk-ant-admin01-SENTINEL-asset-3c9a"
ANALYTICS_KEY = "sk-ant-api01-SENTINEL-asset-5e2b"


@pytest.fixture(scope="module")
def billing(small_org: GenerationResult) -> BillingData:
    """The small organisation, its engagement moved to end yesterday.

    The asset pulls the 30 days before today, and Enterprise Analytics refuses days past
    its latest available one: without this the window would be all too recent.
    """
    data = BillingData.load(Path(small_org.output_dir))
    shift = datetime.now(UTC).date() - timedelta(days=1) - data.watermark
    activity = [replace(activity, day=activity.day + shift) for activity in data.activity]
    return replace(data, watermark=data.watermark + shift, activity=activity)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 60-a-minute budget is the pull tests' concern; here it would only add waiting."""
    from ingestion.billing import pull

    monkeypatch.setattr(pull, "REQUESTS_PER_MINUTE", 60_000)


def _materialize(settings: SettingsResource) -> list:
    with dg.build_asset_context() as context:
        return list(billing_pull(context=context, settings=settings))


def test_each_report_is_materialized_with_its_counts(billing, tmp_path) -> None:
    with BillingEmulator(billing, retry_after_seconds=0) as emulator:
        settings = SettingsResource(
            data_dir=str(tmp_path),
            admin_api_key=ADMIN_KEY,
            analytics_api_key=ANALYTICS_KEY,
            anthropic_base_url=emulator.url,
        )
        results = _materialize(settings)
    metadata = {result.asset_key.path[-1]: result.metadata for result in results}
    assert set(metadata) == set(REPORTS)
    # The default window: the 30 days before today, each rewritten.
    assert all(item["days_rewritten"] == 30 for item in metadata.values())
    assert metadata["cost_totals"]["sources"] == "analytics_beta"
    assert metadata["cost_totals"]["requests"] > 30  # one Claude Code request per day
    assert all(item["quarantined_records"] == 0 for item in metadata.values())
    # Enterprise Analytics: each person's active days, and one summary a day.
    assert metadata["enterprise_users"]["records"] == len(billing.activity) > 0
    assert metadata["enterprise_summaries"]["records"] == 30


def test_without_an_admin_key_claude_code_analytics_is_not_pulled(billing, tmp_path) -> None:
    with BillingEmulator(billing, retry_after_seconds=0) as emulator:
        settings = SettingsResource(
            data_dir=str(tmp_path), analytics_api_key=ANALYTICS_KEY, anthropic_base_url=emulator.url
        )
        results = _materialize(settings)
    assert {result.asset_key.path[-1] for result in results} == {
        "cost_totals",
        "cost_breakdown",
        "enterprise_users",
        "enterprise_summaries",
    }


def test_a_refused_key_fails_the_step_in_one_line(billing, tmp_path) -> None:
    with BillingEmulator(billing, admin_api_key="sk-ant-admin01-other") as emulator:
        settings = SettingsResource(
            data_dir=str(tmp_path), admin_api_key=ADMIN_KEY, anthropic_base_url=emulator.url
        )
        with pytest.raises(dg.Failure) as failure:
            _materialize(settings)
    description = failure.value.description
    assert "401" in description and "\n" not in description and "SENTINEL" not in description
