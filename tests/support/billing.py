"""The billed side of a generated organisation: its billing emulator, pulled over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from configuration.settings import Secret, Settings
from ingestion.anthropic_api.client import RateLimiter
from ingestion.billing.pull import BillingClients, BillingPullSummary, pull_billing
from ingestion.paths import DataLayout
from simulation.billing import BillingData
from simulation.billing_emulator import BillingEmulator

ADMIN_KEY = "sk-ant-admin01-SENTINEL-billing-admin-4b2e"
ANALYTICS_KEY = "sk-ant-api01-SENTINEL-billing-analytics-8d1f"
# Longer than the five weeks of the planted organisation: every day is pulled.
BACKFILL_DAYS = 40


def billing_settings(
    data_dir: Path, url: str, *, admin: bool = True, analytics: bool = True
) -> Settings:
    """Settings with the billing keys (each optional) pointed at an emulator."""
    return Settings(
        data_dir=data_dir,
        admin_api_key=Secret(ADMIN_KEY, "ANTHROPIC_ADMIN_API_KEY") if admin else None,
        analytics_api_key=(
            Secret(ANALYTICS_KEY, "ANTHROPIC_ANALYTICS_API_KEY") if analytics else None
        ),
        anthropic_base_url=url,
    )


def pull_generated_billing(
    billing: BillingData, layout: DataLayout, **emulator_options: object
) -> BillingPullSummary:
    """Serve `billing` on an emulator and pull its trailing `BACKFILL_DAYS` into `layout`,
    as a pull the day after the data's last day would (no waiting on the rate limit: the
    emulator's own limit is tested in tests/simulation)."""
    emulator_options.setdefault("retry_after_seconds", 0)
    with BillingEmulator(
        billing, admin_api_key=ADMIN_KEY, analytics_api_key=ANALYTICS_KEY, **emulator_options
    ) as emulator:
        clients = BillingClients.from_settings(
            billing_settings(layout.root, emulator.url),
            limiter=RateLimiter(per_minute=60_000, burst=1_000),
        )
        try:
            return pull_billing(
                clients,
                layout,
                backfill_days=BACKFILL_DAYS,
                today=billing.watermark + timedelta(days=1),
            )
        finally:
            clients.close()
