"""Amounts in cents become exact dollars (billing-apis.md § fact 2 and §1.7's unit mistakes)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.anthropic_api.records import MalformedRecord
from ingestion.billing.money import USD, cents_to_usd


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [
        pytest.param("41280.000000", "412.80", id="analytics: fractional-cent string"),
        pytest.param("123.78912", "1.2378912", id="legacy cost_report: five decimals"),
        pytest.param(Decimal("330.76"), "3.3076", id="claude code: a JSON number, as Decimal"),
        pytest.param(250, "2.50", id="a whole number of cents"),
        pytest.param("0", "0", id="zero"),
        pytest.param(" 7.5 ", "0.075", id="spaces around"),
        pytest.param("12345678901234567890123.45", "123456789012345678901.2345", id="28+ digits"),
    ],
)
def test_cents_become_exact_dollars(cents: object, dollars: str) -> None:
    usd = cents_to_usd(cents, "amount")
    assert usd == Decimal(dollars)
    # Lands in the decimal column without rounding.
    assert pa.array([usd], USD).to_pylist() == [Decimal(dollars)]


@pytest.mark.parametrize(
    ("cents", "reason"),
    [
        pytest.param(0.1, "a number, not an amount", id="a float may have lost digits"),
        pytest.param(True, "a boolean", id="a boolean"),
        pytest.param(None, "null", id="null"),
        pytest.param("$4.12", "not a number of cents", id="a formatted amount"),
        pytest.param("NaN", "not a finite", id="NaN"),
        pytest.param("-1.00", "not a finite, non-negative", id="negative"),
        pytest.param("1e40", "more money than a bill", id="too large for the column"),
        pytest.param("0.0000000000001", "decimals of a cent", id="too precise"),
    ],
)
def test_what_is_not_an_amount_of_cents_is_refused(cents: object, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        cents_to_usd(cents, "amount")
