"""Shared fixtures: the generated organisations and the built warehouses the test modules
share (built once per run, for both xdist workers; the builders are in tests/support/), the
fast tier, and the order the modules run in."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from simulation.generate import GenerationResult, generate
from tests.support.organisations import (
    PLANTED_ORG,
    SMALL_ORG,
    BuiltOrganisation,
    build_billed_warehouse,
    build_first_file_warehouse,
    build_otel_only_warehouse,
    copy_data_dir,
    shared_organisation_warehouse,
)
from tests.support.shared import shared_directory

# Property tests call Arrow kernels whose first call can take longer than Hypothesis's
# default 200 ms deadline on a busy 2-core machine; correctness, not latency, is tested.
settings.register_profile("cowork", deadline=None)
settings.load_profile("cowork")

# The fast tier (`make test-fast`, about a minute on 2 cores): modules of pure and small
# tests, none of which builds a warehouse, runs Dagster or starts a browser. A new module
# belongs to the full suite until it is listed here.
FAST_TIER = frozenset(
    {
        "tests/alerting/test_alert_units.py",
        "tests/ingestion/billing/test_money.py",
        "tests/ingestion/compliance_api/test_client.py",
        "tests/ingestion/compliance_api/test_fuzz_pull.py",
        "tests/ingestion/compliance_api/test_quarantine.py",
        "tests/ingestion/compliance_api/test_records.py",
        "tests/ingestion/otel/test_coerce.py",
        "tests/ingestion/otel/test_collector_config.py",
        "tests/ingestion/otel/test_fuzz_landing.py",
        "tests/ingestion/otel/test_poison_pills.py",
        "tests/ingestion/test_redaction.py",
        "tests/orchestration/test_freshness.py",
        "tests/orchestration/test_telemetry_health.py",
        "tests/reporting/test_charts.py",
        "tests/reporting/test_periods.py",
        "tests/simulation/test_billing.py",
        "tests/simulation/test_billing_emulator.py",
        "tests/simulation/test_pricing.py",
        "tests/governance/test_aliases.py",
        "tests/governance/test_erasure_billing.py",
        "tests/governance/test_erasure_register.py",
        "tests/test_architecture.py",
        "tests/test_landing_schemas.py",
        "tests/test_layering.py",
        "tests/configuration/test_settings.py",
    }
)


# The modules that take minutes (one or two tests each, measured on 2 cores), slowest
# first. They run first, so that under `make unit` the other worker works through the many
# short modules meanwhile, instead of waiting at the end for one that started last.
SLOWEST_FIRST = (
    # Builds the collector first (about 4 minutes with empty Go caches, seconds after).
    "tests/e2e/test_real_collector.py",
    "tests/orchestration/test_run_recovery.py",
    "tests/governance/test_erasure.py",
    # Three builds and two erasures of the small organisation (about 9 minutes serially).
    "tests/governance/test_erasure_lasts.py",
    "tests/warehouse/test_incremental.py",
    "tests/warehouse/test_daily_runs.py",
    "tests/warehouse/test_marts_match_ground_truth.py",
    "tests/orchestration/test_one_build_at_a_time.py",
    "tests/e2e/test_demo.py",
    "tests/warehouse/test_privacy_serving.py",
    "tests/warehouse/test_billed_cost.py",
    "tests/orchestration/test_ui.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, hand out test files in collection order (SLOWEST_FIRST leads it).

    By default `--dist loadfile` orders files by their number of tests, which puts the
    slowest files (few tests each) last.
    """
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of the fast tier's modules `fast`; put the SLOWEST_FIRST modules first
    (each module's tests keep their order)."""
    root = Path(config.rootpath)
    for item in items:
        if item.path.relative_to(root).as_posix() in FAST_TIER:
            item.add_marker(pytest.mark.fast)
    rank = {module: position for position, module in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(root).as_posix(), len(rank)))


@pytest.fixture(scope="session")
def small_org(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    """12 people over 4 days, with the live file rotated a few times (1 MB limit)."""
    return generate(tmp_path_factory.mktemp("small_org"), rotate_megabytes=1.0, **SMALL_ORG)


@pytest.fixture
def otel_dir(small_org: GenerationResult) -> Path:
    return Path(small_org.otel_dir)


# The built warehouses below are built once per run and shared by the xdist workers
# (tests/support/shared.py). Those not named a copy are read-only: a test that changes one
# copies its data directory first.


@pytest.fixture(scope="session")
def planted_org(tmp_path_factory: pytest.TempPathFactory) -> BuiltOrganisation:
    """12 people over five weeks with a planted cost spike, built and published (standard);
    this worker's own copy of the data directory (reports are written into it)."""
    shared = shared_organisation_warehouse(tmp_path_factory, "planted_org", **PLANTED_ORG)
    return copy_data_dir(shared, tmp_path_factory.mktemp("planted_org") / "data")


@pytest.fixture(scope="session")
def billed_org(tmp_path_factory: pytest.TempPathFactory) -> BuiltOrganisation:
    """The planted organisation with its billed side pulled from the billing emulator (the
    first, provisional revision; the beta API), built and published. Read-only; its billing
    ground truth is in `billing_truth/` beside `data/`."""
    shared = shared_organisation_warehouse(tmp_path_factory, "planted_org", **PLANTED_ORG)
    root = shared_directory(
        tmp_path_factory, "billed_org", lambda root: build_billed_warehouse(root, shared)
    )
    return BuiltOrganisation(shared.generated, root / "data")


@pytest.fixture(scope="session")
def small_org_warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltOrganisation:
    """The small organisation (not rotated) with its Compliance side, built and published
    (standard). Read-only."""
    return shared_organisation_warehouse(tmp_path_factory, "small_org_warehouse", **SMALL_ORG)


@pytest.fixture(scope="session")
def first_file_warehouse(
    small_org: GenerationResult, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The small organisation's first rotated log file alone (`collector/`), landed, built
    and published (`data/`), no Compliance side. Read-only."""
    return shared_directory(
        tmp_path_factory,
        "first_file_warehouse",
        lambda root: build_first_file_warehouse(root, Path(small_org.otel_dir)),
    )


@pytest.fixture(scope="session")
def small_org_otel_warehouse(
    small_org: GenerationResult, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Every collector file of the small organisation landed (no Compliance side), built
    with one dbt thread and published (`data/`). Read-only."""
    return shared_directory(
        tmp_path_factory,
        "small_org_otel_warehouse",
        lambda root: build_otel_only_warehouse(root, Path(small_org.otel_dir)),
    )
