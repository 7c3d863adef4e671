"""Model prices, read from the dbt seed so the generator and the warehouse share one table.

The seed is versioned: a model has one row per price period, `valid_from` inclusive and
`valid_to` exclusive (empty while the price is current).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

PRICE_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "model_prices.csv"

# Clients send dated ids (`claude-haiku-4-5-20251001`) and a `[1m]` long-context suffix;
# the price table is keyed by the bare model id.
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")


@dataclass(frozen=True)
class Price:
    """Prices of one model in nano-dollars per token (integers, so sums are exact)."""

    input: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    output: int


def normalise_model_id(model: str) -> str:
    """Strip the `[1m]` suffix and a trailing release date from a model id."""
    return _DATE_SUFFIX.sub("", _CONTEXT_SUFFIX.sub("", model.strip()))


def _nano_per_token(usd_per_mtok: str) -> int:
    # $/MTok equals µ$/token; times 1,000 gives n$/token, exact for every listed price.
    value = Decimal(usd_per_mtok) * 1000
    if value != value.to_integral_value():
        raise ValueError(f"price {usd_per_mtok} $/MTok is not a whole number of n$/token")
    return int(value)


@dataclass(frozen=True)
class PricePeriod:
    """One row of the seed: a model's prices from `valid_from` up to (not incl.) `valid_to`."""

    valid_from: date
    valid_to: date | None
    price: Price

    def covers(self, day: date) -> bool:
        """Whether the period's price applies on `day`."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@cache
def price_table() -> dict[str, tuple[PricePeriod, ...]]:
    """The price periods of each model, keyed by normalised model id, oldest first."""
    periods: dict[str, list[PricePeriod]] = {}
    with PRICE_SEED.open(newline="") as handle:
        for row in csv.DictReader(handle):
            periods.setdefault(row["model_id"], []).append(
                PricePeriod(
                    valid_from=date.fromisoformat(row["valid_from"]),
                    valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                    price=Price(
                        input=_nano_per_token(row["input_usd_per_mtok"]),
                        cache_write_5m=_nano_per_token(row["cache_write_5m_usd_per_mtok"]),
                        cache_write_1h=_nano_per_token(row["cache_write_1h_usd_per_mtok"]),
                        cache_read=_nano_per_token(row["cache_read_usd_per_mtok"]),
                        output=_nano_per_token(row["output_usd_per_mtok"]),
                    ),
                )
            )
    return {
        model: tuple(sorted(rows, key=lambda period: period.valid_from))
        for model, rows in periods.items()
    }


def price_on(model: str, on: date) -> Price:
    """The price of `model` (any wire id) valid on the UTC date `on`.

    Raises:
        KeyError: the model is unknown, or has no price on that day.
    """
    for period in price_table()[normalise_model_id(model)]:
        if period.covers(on):
            return period.price
    raise KeyError(f"no price for {model} on {on}")


def request_cost_parts_nano(
    model: str,
    *,
    on: date,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_5m_tokens: int,
    cache_write_1h_tokens: int = 0,
) -> tuple[int, int, int, int]:
    """Exact cost of one API request in nano-dollars, by category.

    Args:
        model: the model id as sent on the wire.
        on: the UTC date of the request, which picks the price period.
        input_tokens: uncached input tokens.
        output_tokens: output tokens.
        cache_read_tokens: tokens read from the prompt cache.
        cache_write_5m_tokens: cache writes at the 5-minute price.
        cache_write_1h_tokens: cache writes at the 1-hour price.

    Returns:
        (input, output, cache read, cache write) costs; their sum is the request's cost.
    """
    price = price_on(model, on)
    return (
        input_tokens * price.input,
        output_tokens * price.output,
        cache_read_tokens * price.cache_read,
        cache_write_5m_tokens * price.cache_write_5m + cache_write_1h_tokens * price.cache_write_1h,
    )
