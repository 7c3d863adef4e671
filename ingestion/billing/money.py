"""Money from the billing APIs, exact: amounts in cents to US dollars as decimals.

Every billing endpoint reports money in cents, not dollars, in different spellings: the
legacy `cost_report` a string with up to five decimals (`"123.78912"`), the beta and
Enterprise analytics a string in fractional cents (`"41280.000000"`, $412.80), Claude Code
Analytics a JSON number (read as a `Decimal` by the client, never a float). Public
integrations have read these as dollars (100x too much) or through floats; here every
amount goes string or decimal -> `Decimal` -> /100, exactly, and lands as a decimal column.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

import pyarrow as pa

from ingestion.anthropic_api.records import MalformedRecord, describe

# Dollars with 12 decimals: a fractional-cent string's 6 decimals are 8 in dollars, with
# room to spare; 26 integer digits are more money than exists.
USD_SCALE = 12
USD = pa.decimal128(38, USD_SCALE)
# Wide enough that moving the decimal point never rounds (the default keeps 28 digits).
_EXACT = Context(prec=80)


def cents_to_usd(value: object, name: str) -> Decimal:
    """An amount in cents (a string, a decimal or an integer) as exact dollars.

    Raises:
        MalformedRecord: not a finite, non-negative amount of cents, a float (which may
            already have lost digits), or more precise than `USD_SCALE` decimals of a dollar.
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise MalformedRecord(f"{name} is {describe(value)}, not an amount of cents")
    try:
        cents = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise MalformedRecord(f"{name} {value!r} is not a number of cents") from None
    if not cents.is_finite() or cents < 0:
        raise MalformedRecord(f"{name} {value!r} is not a finite, non-negative amount")
    dollars = cents.scaleb(-2, context=_EXACT)  # a shift of the decimal point, exact
    if dollars.adjusted() >= USD.precision - USD_SCALE:
        raise MalformedRecord(f"{name} {value!r} is more money than a bill can hold")
    if dollars.as_tuple().exponent < -USD_SCALE:
        raise MalformedRecord(f"{name} {value!r} has more than {USD_SCALE - 2} decimals of a cent")
    return dollars
