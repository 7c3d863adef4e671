"""Report periods: months and ISO weeks, their previous periods, and what a schedule writes."""

from datetime import date

import pytest

from reporting.periods import day_range, month_of, months_due, parse_month, parse_period, parse_week


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        pytest.param("2026-11", date(2026, 11, 1), date(2026, 11, 30), "2026-11", id="month"),
        pytest.param("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-02", id="leap february"),
        pytest.param("2026-12", date(2026, 12, 1), date(2026, 12, 31), "2026-12", id="december"),
        pytest.param("2026-W47", date(2026, 11, 16), date(2026, 11, 22), "2026-W47", id="week"),
        pytest.param("2026-w01", date(2025, 12, 29), date(2026, 1, 4), "2026-W01", id="iso year"),
        pytest.param("2020-W53", date(2020, 12, 28), date(2021, 1, 3), "2020-W53", id="week 53"),
    ],
)
def test_periods_parse_to_whole_months_and_iso_weeks(text, start, end, label) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, label)
    assert period.days == (end - start).days + 1 == len(period.dates())
    assert period.contains(start) and period.contains(end)
    assert not period.contains(date.fromordinal(end.toordinal() + 1))


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        pytest.param("2026-03", "2026-02", id="month"),
        pytest.param("2026-01", "2025-12", id="january"),
        pytest.param("2026-W01", "2025-W52", id="first week"),
        pytest.param("2021-W01", "2020-W53", id="after a week 53"),
    ],
)
def test_the_previous_period_is_the_one_just_before(text: str, previous: str) -> None:
    period = parse_period(text)
    assert period.previous().label == previous
    assert period.previous().end.toordinal() + 1 == period.start.toordinal()


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "november", ""]
)
def test_invalid_months_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a month"):
        parse_month(text)


@pytest.mark.parametrize("text", ["2026-W54", "2026-W00", "2026-W1", "2026W47", "2025-W53"])
def test_invalid_weeks_are_refused(text: str) -> None:
    # 2025 has 52 ISO weeks (2020 and 2026 have 53).
    with pytest.raises(ValueError, match="is not an ISO week"):
        parse_week(text)


def test_titles_read_naturally() -> None:
    assert parse_period("2026-11").title == "November 2026"
    assert parse_period("2026-W47").title == "Week 47, 2026 (16\N{EN DASH}22 Nov)"
    assert day_range(date(2026, 11, 30), date(2026, 12, 6)) == "30 Nov \N{EN DASH} 6 Dec"
    assert day_range(date(2025, 12, 29), date(2026, 1, 4)) == "29 Dec 2025 \N{EN DASH} 4 Jan 2026"


def test_the_schedule_also_closes_the_previous_month_in_its_first_days() -> None:
    assert months_due(date(2026, 12, 2)) == [
        month_of(date(2026, 11, 1)),
        month_of(date(2026, 12, 1)),
    ]
    assert months_due(date(2026, 12, 4)) == [month_of(date(2026, 12, 1))]
