"""Report periods: calendar months (`2026-11`) and ISO weeks (`2026-W47`), in UTC days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["month", "week"]

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)
DASH = "\N{EN DASH}"  # typographic ranges: 16-22 Nov is printed with an en dash


@dataclass(frozen=True, order=True)
class Period:
    """A whole calendar month or ISO week (Monday to Sunday); `end` is inclusive."""

    start: date
    end: date
    kind: PeriodKind

    @property
    def label(self) -> str:
        """The period as it is written on the command line and in file names."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def title(self) -> str:
        """A heading such as `November 2026` or `Week 47, 2026 (16-22 Nov)`."""
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        year, week, _ = self.start.isocalendar()
        return f"Week {week}, {year} ({day_range(self.start, self.end)})"

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        if self.kind == "month":
            return month_of(self.start - timedelta(days=1))
        return week_of(self.start - timedelta(days=7))

    def contains(self, day: date) -> bool:
        """Whether `day` falls within the period."""
        return self.start <= day <= self.end


def month_of(day: date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period(start, following - timedelta(days=1), "month")


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday) containing `day`."""
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=6), "week")


def parse_month(text: str) -> Period:
    """`YYYY-MM` as a month.

    Raises:
        ValueError: not a valid month.
    """
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"{text!r} is not a month: expected YYYY-MM, e.g. 2026-11")
    return month_of(date(int(match[1]), int(match[2]), 1))


def parse_week(text: str) -> Period:
    """`YYYY-Www` as an ISO week (the ISO year, which can differ from the calendar year).

    Raises:
        ValueError: not a valid ISO week (week 53 exists in some years only).
    """
    match = _WEEK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO week: expected YYYY-Www, e.g. 2026-W47")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        message = f"{text!r} is not an ISO week: {match[1]} has no week {match[2]}"
        raise ValueError(message) from None
    return week_of(monday)


def parse_period(text: str) -> Period:
    """A month (`2026-11`) or an ISO week (`2026-W47`).

    Raises:
        ValueError: neither.
    """
    return parse_week(text) if "W" in text.upper() else parse_month(text)


def day_range(start: date, end: date) -> str:
    """A compact day range: `16-22 Nov`, `30 Nov - 6 Dec`, `29 Dec 2025 - 4 Jan 2026`.

    The dash is an en dash (spaced between dates of different months).
    """
    if start.year != end.year:
        return f"{start.day} {start:%b %Y} {DASH} {end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b} {DASH} {end.day} {end:%b}"
    if start == end:
        return f"{start.day} {start:%b}"
    return f"{start.day}{DASH}{end.day} {end:%b}"


def months_due(today: date, closing_days: int = 3) -> list[Period]:
    """The months a scheduled report writes on `today`.

    The current month and, during the first `closing_days` days of a month, the one just
    closed: late telemetry still lands in it, so its final report is written after that.
    """
    current = month_of(today)
    return [current.previous(), current] if today.day <= closing_days else [current]
