import dagster as dg

from ingestion.otel.land import LandingSummary
from orchestration.defs.otel.assets import _quarantine_check
from orchestration.defs.resources import QuarantineThresholdsResource


def _check(lines: int, quarantined: int) -> dg.AssetCheckResult:
    summary = LandingSummary(lines=lines, quarantined_lines=quarantined)
    return _quarantine_check(summary, QuarantineThresholdsResource())


def test_quarantine_rate_passes_warns_and_fails_at_the_thresholds() -> None:
    """F2: WARN above 0.1 %, ERROR (blocking) above 5 %."""
    clean = _check(10_000, 10)
    assert clean.passed
    warned = _check(10_000, 11)
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    failed = _check(10_000, 501)
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["quarantined_lines"].value == 501
