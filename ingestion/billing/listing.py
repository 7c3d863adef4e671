"""What every billing report's pull shares: listings, quarantine and whole-day landing.

A listing is every page of one request's parameters (`page` / `next_page` tokens). It
starts again from its first page when a cursor is refused (410 expired, or 400 issued for
other parameters), and what its failed attempt quarantined is discarded, so a restart
never lands or counts a record twice. Its rows land as whole UTC days:
`landing/billing/<report>/<date column>=<day>/part.parquet`, rewritten atomically, with an
empty file for a day without rows; when a record of the days was quarantined, they keep
what an earlier pull landed (a malformed record may have been a day's only figure). Rows
of forgotten people (the erasure register: an e-mail or account id of the per-user reports)
are dropped before a day is written, under the register's shared lock, and counted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pyarrow as pa

from ingestion.anthropic_api.client import AnthropicClient
from ingestion.anthropic_api.errors import AnthropicApiError, CursorRefusedError
from ingestion.anthropic_api.paging import Page, token_pages
from ingestion.anthropic_api.quarantine import Quarantine
from ingestion.billing.records import REPORT_SCHEMAS
from ingestion.erasure_register import BILLING_STRONG_COLUMNS, RegisterGuard
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
MAX_WINDOW_DAYS = 31  # the longest range one request may span
# A listing restarts on an expired or refused cursor at most this often.
RESTARTS = 2


@dataclass
class BillingPullSummary:
    """What one pull did, for the CLI table and the Dagster metadata (never a key)."""

    windows: list[tuple[date, date, str]] = field(default_factory=list)  # start, end, source
    records: dict[str, int] = field(default_factory=dict)  # report -> landed rows
    quarantined: dict[str, int] = field(default_factory=dict)  # report -> records
    days_replaced: dict[str, int] = field(default_factory=dict)  # report -> day files written
    erased: dict[str, int] = field(default_factory=dict)  # report -> forgotten people's rows
    restarts: int = 0
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    notices: list[str] = field(default_factory=list)


def windows(first: date, last: date) -> Iterator[tuple[date, date]]:
    """[start, end) day ranges covering first..last, none longer than MAX_WINDOW_DAYS."""
    start = first
    while start <= last:
        end = min(start + timedelta(days=MAX_WINDOW_DAYS), last + timedelta(days=1))
        yield start, end
        start = end


def days_of(start: date, end: date) -> list[date]:
    """The days of [start, end)."""
    return [start + timedelta(days=n) for n in range((end - start).days)]


@dataclass
class Listings:
    """One client's listings in one pull, and where their rows and bad records go.

    Args:
        client: the API client (its key redacts what is quarantined).
        layout: the data directory.
        summary: the pull's summary, added to.
        pulled_at: when the pull started (every landed row's `pulled_at`).
        max_pages: pages per listing.
        guard: the erasure register (default: read without the pepper).
    """

    client: AnthropicClient
    layout: DataLayout
    summary: BillingPullSummary
    pulled_at: datetime
    max_pages: int
    guard: RegisterGuard | None = None
    quarantine: Quarantine = field(init=False)

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = RegisterGuard(self.layout)
        guard = self.guard
        self.quarantine = Quarantine(
            self.layout.billing("quarantine"),
            partial(self.client.redact, thorough=False),
            self.summary.quarantined,
            erased=lambda record: guard.register.names_anyone(record),
            erased_counts=self.summary.erased,
        )

    def records(
        self,
        report: str,
        path: str,
        page_size: int,
        params: dict[str, Any],
        build: Callable[[Page], Callable[[object], Any]],
        headers: dict[str, str] | None = None,
    ) -> tuple[list[Any], int]:
        """What `build(page)` makes of each record of one listing, and the quarantined count.

        Malformed records are quarantined as `report`'s.

        Raises:
            CursorRefusedError: the cursor was refused more than RESTARTS times.
        """

        def fetch() -> list[Any]:
            built = []
            for page in token_pages(self.client, path, page_size, self.max_pages, params, headers):
                built += self.quarantine.rows(report, page, build(page))
            return built

        for attempt in range(RESTARTS + 1):
            mark = self.quarantine.mark()
            try:
                built = fetch()
            except CursorRefusedError as error:
                self.quarantine.discard_since(mark)
                if attempt == RESTARTS:
                    raise
                self.summary.restarts += 1
                LOGGER.warning("%s: the cursor was refused (%s); restarting", path, error.status)
                continue
            return built, self.quarantine.records_since(mark)
        raise AssertionError("unreachable")

    def land(
        self, label: str, days: list[date], quarantined: int, rows: dict[str, list[dict]]
    ) -> None:
        """Rewrite each report's days whole, unless a record of them was quarantined.

        Args:
            label: the source, as a notice names it.
            days: the days the listings covered, in order.
            quarantined: records of these days quarantined.
            rows: report -> its rows of these days.
        """
        if quarantined:
            span = f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]}"
            kept = "the day keeps" if len(days) == 1 else "these days keep"
            self.summary.notices.append(
                f"{label} {span}: {quarantined} malformed record(s) quarantined, so {kept}"
                " what was landed before."
            )
            return
        for report, report_rows in rows.items():
            land_days(self.layout, report, report_rows, days, self.summary, self.guard)


def land_days(
    layout: DataLayout,
    report: str,
    rows: list[dict],
    days: list[date],
    summary: BillingPullSummary,
    guard: RegisterGuard | None = None,
) -> None:
    """Rewrite each day's file of a report whole (an empty file for a day without rows).

    The report's schema is `REPORT_SCHEMAS[report]`; its first column is the day. Rows of
    forgotten people (`guard`'s register) are dropped, counted in `summary.erased`.

    Raises:
        AnthropicApiError: a row of a day outside `days` (the API answered another range).
    """
    schema: pa.Schema = REPORT_SCHEMAS[report]
    date_column = schema.names[0]
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row[date_column]].append(row)
    outside = set(by_day) - set(days)
    if outside:
        raise AnthropicApiError(
            200,
            "invalid_response",
            f"{report}: rows for {min(outside)} outside the requested window",
            None,
            report,
        )
    guard = guard or RegisterGuard(layout)
    landed = 0
    with guard.hold() as register:
        for day in days:
            table = pa.Table.from_pylist(by_day.get(day, []), schema=schema)
            table, erased = register.drop(table, BILLING_STRONG_COLUMNS)
            if erased:
                summary.erased[report] = summary.erased.get(report, 0) + erased
            write_parquet_atomically(
                table, layout.billing(report) / f"{date_column}={day.isoformat()}" / "part.parquet"
            )
            landed += table.num_rows
            summary.days_replaced[report] = summary.days_replaced.get(report, 0) + 1
    summary.records[report] = summary.records.get(report, 0) + landed
