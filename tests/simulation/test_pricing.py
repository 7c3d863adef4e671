from datetime import date, timedelta
from itertools import pairwise

import pytest

from simulation.pricing import normalise_model_id, price_on, price_table, request_cost_parts_nano

SONNET_5_5_CHANGE = date(2026, 10, 7)  # cache reads from $0.20 to $0.10 per MTok


@pytest.mark.parametrize(
    ("wire", "model"),
    [
        pytest.param("claude-haiku-4-5-20251001", "claude-haiku-4-5", id="dated"),
        pytest.param("claude-opus-4-6[1m]", "claude-opus-4-6", id="long context"),
        pytest.param(" claude-sonnet-5 ", "claude-sonnet-5", id="plain alias"),
    ],
)
def test_wire_ids_normalise_to_price_ids(wire: str, model: str) -> None:
    assert normalise_model_id(wire) == model
    assert model in price_table()


def test_every_model_has_one_price_per_day_from_its_first_row_on() -> None:
    """The seed's periods neither overlap nor leave gaps, and only the last one is open."""
    for model, periods in price_table().items():
        for earlier, later in pairwise(periods):
            assert earlier.valid_to == later.valid_from, model
        assert periods[-1].valid_to is None, model


def test_the_price_valid_on_the_day_applies() -> None:
    before = price_on("claude-sonnet-5-5", SONNET_5_5_CHANGE - timedelta(days=1))
    after = price_on("claude-sonnet-5-5", SONNET_5_5_CHANGE)  # valid_from is inclusive
    assert (before.cache_read, after.cache_read) == (200, 100)  # nano-dollars per token
    assert (before.input, before.output) == (after.input, after.output) == (2_000, 10_000)


def test_request_cost_uses_the_request_day() -> None:
    tokens = {
        "input_tokens": 1_000,
        "output_tokens": 500,
        "cache_read_tokens": 10_000,
        "cache_write_5m_tokens": 300,
        "cache_write_1h_tokens": 100,
    }
    old = request_cost_parts_nano("claude-sonnet-5-5", on=date(2026, 10, 6), **tokens)
    new = request_cost_parts_nano("claude-sonnet-5-5", on=SONNET_5_5_CHANGE, **tokens)
    assert old == (2_000_000, 5_000_000, 2_000_000, 300 * 2_500 + 100 * 4_000)
    assert new == (2_000_000, 5_000_000, 1_000_000, 300 * 2_500 + 100 * 4_000)


def test_no_price_before_the_first_row_or_for_an_unknown_model() -> None:
    with pytest.raises(KeyError):
        price_on("claude-sonnet-5", date(2024, 12, 31))
    with pytest.raises(KeyError):
        price_on("claude-unknown-1", date(2026, 1, 1))
