"""The demo's world: a simulated organisation, its Compliance and billing APIs on emulators.

Kept out of the command line: the CLI only prints what happens here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from configuration.settings import MAXIMUM_BILLING_BACKFILL_DAYS, Secret, Settings
from ingestion.billing.pull import BillingClients, BillingPullSummary, pull_billing
from ingestion.paths import DataLayout
from simulation.billing import BillingData
from simulation.billing_emulator import BillingEmulator
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult, generate
from simulation.verify import billing_mismatches, mart_mismatches

# Accepted by the emulators, never by Anthropic: the demo needs keys of the right shape.
DEMO_KEY = "sk-ant-api01-demo-emulator-key"
DEMO_ADMIN_KEY = "sk-ant-admin01-demo-emulator-key"
DEMO_ANALYTICS_KEY = "sk-ant-api01-demo-analytics-emulator-key"


@dataclass(frozen=True)
class DemoOrganisation:
    """The simulated organisation, its APIs' addresses, and settings using them."""

    generated: GenerationResult
    billing: BillingData
    compliance_url: str
    billing_url: str
    settings: Settings


def reset(layout: DataLayout) -> None:
    """Start from a clean slate (the serving file is replaced atomically by the run)."""
    for folder in (
        layout.simulated,
        layout.root / "landing",
        layout.root / "state",
        layout.root / "build",
    ):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def demo_organisation(
    layout: DataLayout,
    settings: Settings,
    *,
    users: int,
    days: int,
    seed: int,
    end_date: date | None,
) -> Iterator[DemoOrganisation]:
    """Simulate an organisation into the data directory and serve its Anthropic APIs.

    The Compliance and billing emulators serve it, and the billing ground truth is written
    beside the generator's. The organisation's `settings` are the given ones pointed at
    the simulated collector files and at the emulators, with throw-away keys, and the
    billing pull re-reads as many days as were simulated; the emulators stop when the
    block ends.
    """
    reset(layout)
    generated = generate(layout.simulated, seed=seed, users=users, days=days, end_date=end_date)
    billing = BillingData.load(layout.simulated)
    billing.write_ground_truth(layout.simulated / "ground_truth")
    compliance = ComplianceEmulator(EmulatorData.load(layout.simulated / "compliance"))
    billed = BillingEmulator(
        billing,
        admin_api_key=DEMO_ADMIN_KEY,
        analytics_api_key=DEMO_ANALYTICS_KEY,
        # Days after a past period are served too, without usage, as Anthropic would.
        served_through=datetime.now(UTC).date() - timedelta(days=1),
    )
    with compliance, billed:
        demo_settings = settings.with_changes(
            configured_otel_dirs=(Path(generated.otel_dir),),
            compliance_api_key=Secret(DEMO_KEY, published=True),
            compliance_base_url=compliance.url,
            admin_api_key=Secret(DEMO_ADMIN_KEY, published=True),
            analytics_api_key=Secret(DEMO_ANALYTICS_KEY, published=True),
            anthropic_base_url=billed.url,
            billing_backfill_days=min(days, MAXIMUM_BILLING_BACKFILL_DAYS),
        )
        yield DemoOrganisation(generated, billing, compliance.url, billed.url, demo_settings)


def ground_truth_mismatches(layout: DataLayout, settings: Settings) -> list[str]:
    """Where the published marts differ from the generator's ground truth (none expected).

    The billed side is compared with its first (provisional) revision, the one served.
    Under privacy `strict` the marts name people by pseudonym, so the ground truth's people
    are pseudonymised with the settings' pepper first.
    """
    truth = layout.simulated / "ground_truth"
    return [
        *mart_mismatches(layout.serving_database, truth, pepper=settings.pepper),
        *billing_mismatches(layout.serving_database, truth, final=False),
    ]


def backfill_billed_side(organisation: DemoOrganisation, layout: DataLayout) -> BillingPullSummary:
    """Pull the billed side of every simulated day, as an operator's first back-fill would.

    The pipeline's own pull re-reads the trailing days before today only, and a demo may
    simulate a period that ended long ago.
    """
    # UTC days: a simulated local day begins on the UTC day before in eastern time zones.
    billed_days = [usage.day for usage in organisation.billing.usage]
    first = min(billed_days, default=organisation.billing.watermark)
    last = max([*billed_days, organisation.billing.watermark])
    days = min((last - first).days + 1, MAXIMUM_BILLING_BACKFILL_DAYS)
    clients = BillingClients.from_settings(organisation.settings)
    try:
        return pull_billing(clients, layout, backfill_days=days, today=last + timedelta(days=1))
    finally:
        clients.close()
