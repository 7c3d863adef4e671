"""Shared fixtures: a small generated organisation, generated once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings

from simulation.generate import GenerationResult, generate

# Property tests call Arrow kernels whose first call can take longer than Hypothesis's
# default 200 ms deadline on a busy 2-core machine; correctness, not latency, is tested.
settings.register_profile("cowork", deadline=None)
settings.load_profile("cowork")

SMALL_ORG = {
    "seed": 11,
    "users": 12,
    "days": 4,
    "end_date": date(2026, 3, 10),
    "claude_code_share": 0.5,
}


@pytest.fixture(scope="session")
def small_org(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    """12 people over 4 days, with the live file rotated a few times (1 MB limit)."""
    return generate(tmp_path_factory.mktemp("small_org"), rotate_megabytes=1.0, **SMALL_ORG)


@pytest.fixture
def otel_dir(small_org: GenerationResult) -> Path:
    return Path(small_org.otel_dir)
