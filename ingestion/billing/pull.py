"""Pull what Anthropic bills (cost reports) and estimates (Claude Code Analytics), by day.

Billed cost comes from the Usage and Cost Analytics API (beta) when the organisation has it,
else from the Admin API's legacy `cost_report`: one source per pull window, never both. Each
source is asked twice per window: ungrouped (the day's totals, the only figures to add up)
and grouped by product, model, cost type, token type and workspace (a breakdown: a bucket
keeps its top 100 groups with no remainder row, so its rows are never summed into totals).

Cost is provisional for about 30 days, so every pull re-reads a trailing window (the
backfill) and rewrites each of its days whole: `landing/billing/<report>/<date
column>=<day>/part.parquet`, replaced atomically, with an empty file for a day without rows.
A restated day replaces what an earlier pull landed, never adds to it. An expired cursor
(410) or a cursor refused for changed parameters (400) restarts that window's listing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pyarrow as pa

from configuration.settings import ADMIN_API_KEY, ANALYTICS_API_KEY, Settings
from ingestion.anthropic_api.client import AnthropicClient, RateLimiter
from ingestion.anthropic_api.errors import AnthropicApiError, CursorRefusedError
from ingestion.anthropic_api.paging import MAX_PAGES, token_pages
from ingestion.anthropic_api.quarantine import Quarantine
from ingestion.billing.records import (
    BETA,
    BREAKDOWN_DIMENSIONS,
    CLAUDE_CODE_MODELS_SCHEMA,
    CLAUDE_CODE_USERS_SCHEMA,
    COST_BREAKDOWN_SCHEMA,
    COST_TOTALS_SCHEMA,
    LEGACY,
    beta_cost_row,
    claude_code_rows,
    legacy_cost_rows,
    refreshed_at,
    utc_midnight,
)
from ingestion.parquet import write_parquet_atomically
from ingestion.paths import DataLayout

LOGGER = logging.getLogger(__name__)
BETA_HEADER = {"anthropic-beta": "analytics-usage-cost-2026-08-24"}
BETA_COST = "/v1/organizations/analytics/cost"
LEGACY_COST = "/v1/organizations/cost_report"
CLAUDE_CODE = "/v1/organizations/usage_report/claude_code"
# 60 requests a minute per organisation for the Analytics APIs (§1.5); the Admin API
# publishes none, and once a minute is its documented polling pace: the same budget. A
# little under it and no burst, so that no sliding minute ever holds more than 60.
REQUESTS_PER_MINUTE = 58
MAX_WINDOW_DAYS = 31  # the longest range one request may span
BACKFILL_DAYS = 30  # cost stays provisional for about this long
EARLIEST_DAY = date(2026, 1, 1)  # no cost or usage data before (§1.5)
BETA_PAGE = 1000
LEGACY_PAGE = 31
CLAUDE_CODE_PAGE = 1000
# A window's listing restarts on an expired or refused cursor at most this often.
RESTARTS = 2


@dataclass
class BillingPullSummary:
    """What one pull did, for the CLI table and the Dagster metadata (never a key)."""

    windows: list[tuple[date, date, str]] = field(default_factory=list)  # start, end, source
    records: dict[str, int] = field(default_factory=dict)  # report -> landed rows
    quarantined: dict[str, int] = field(default_factory=dict)  # report -> records
    days_replaced: dict[str, int] = field(default_factory=dict)  # report -> day files written
    restarts: int = 0
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BillingClients:
    """The clients a billing pull uses; None where no key is configured.

    `cost` reads the cost reports (the beta with an Admin or analytics key; the legacy
    fallback needs the Admin key), `admin` reads Claude Code Analytics.
    """

    cost: AnthropicClient | None
    admin: AnthropicClient | None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> BillingClients:
        """Clients with the settings' keys and base URL (money read exactly)."""
        # One budget for both keys: they belong to one organisation.
        budget = {"limiter": RateLimiter(REQUESTS_PER_MINUTE, burst=1)} | options

        def client(key_variable: str, key) -> AnthropicClient | None:
            if key is None:
                return None
            return AnthropicClient(
                key.value,
                settings.anthropic_base_url,
                key_variable=key_variable,
                exact_numbers=True,
                **budget,
            )

        admin = client(ADMIN_API_KEY, settings.admin_api_key)
        cost = admin or client(ANALYTICS_API_KEY, settings.analytics_api_key)
        return cls(cost, admin)

    def distinct(self) -> list[AnthropicClient]:
        """Each configured client once (the cost client is the admin one when both exist)."""
        return list({id(c): c for c in (self.cost, self.admin) if c is not None}.values())

    def close(self) -> None:
        """Close the connection pools."""
        for client in self.distinct():
            client.close()


def windows(first: date, last: date) -> Iterator[tuple[date, date]]:
    """[start, end) day ranges covering first..last, none longer than MAX_WINDOW_DAYS."""
    start = first
    while start <= last:
        end = min(start + timedelta(days=MAX_WINDOW_DAYS), last + timedelta(days=1))
        yield start, end
        start = end


def pull_billing(
    clients: BillingClients,
    layout: DataLayout,
    *,
    backfill_days: int = BACKFILL_DAYS,
    today: date | None = None,
    max_pages: int = MAX_PAGES,
) -> BillingPullSummary:
    """Pull the billed cost and Claude Code Analytics of the trailing `backfill_days` days.

    The window ends with yesterday (UTC): today's buckets are still filling. Each source
    without a client is skipped with one notice.

    Raises:
        AnthropicApiError: a pull that failed for good (one redacted line).
    """
    today = today or datetime.now(UTC).date()
    last = today - timedelta(days=1)
    first = max(today - timedelta(days=backfill_days), EARLIEST_DAY)
    summary = BillingPullSummary()
    pulled_at = datetime.now(UTC)
    if clients.cost is None:
        summary.notices.append(
            f"Billed cost: neither {ADMIN_API_KEY} nor {ANALYTICS_API_KEY} is set, so the cost"
            " reports are skipped."
        )
    else:
        for start, end in windows(first, last):
            _pull_cost_window(clients, layout, start, end, pulled_at, summary, max_pages)
    if clients.admin is None:
        summary.notices.append(
            f"Claude Code Analytics: {ADMIN_API_KEY} is not set, so its estimates are skipped."
        )
    else:
        _pull_claude_code(clients.admin, layout, first, last, pulled_at, summary, max_pages)
    for client in clients.distinct():
        summary.requests += client.stats.requests
        summary.retries += client.stats.retries
        summary.waited_seconds += client.stats.waited_seconds
    return summary


def _quarantine(layout: DataLayout, client: AnthropicClient, summary: BillingPullSummary):
    return Quarantine(
        layout.billing("quarantine"),
        partial(client.redact, thorough=False),
        summary.quarantined,
    )


def _listing(
    summary: BillingPullSummary,
    quarantine: Quarantine,
    fetch: Callable[[], list[Any]],
    path: str,
) -> tuple[list[Any], int]:
    """All rows of one listing, and how many of its records were quarantined.

    It starts again from the first page when a cursor is refused (expired, or issued for
    other parameters). Rows are kept only when the listing completes, and what the failed
    attempt quarantined is discarded, so a restart never lands or counts a record twice.
    """
    for attempt in range(RESTARTS + 1):
        mark = quarantine.mark()
        try:
            rows = fetch()
        except CursorRefusedError as error:
            quarantine.discard_since(mark)
            if attempt == RESTARTS:
                raise
            summary.restarts += 1
            LOGGER.warning("%s: the cursor was refused (%s); restarting", path, error.status)
            continue
        return rows, quarantine.records_since(mark)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _CostWindow:
    """One pull window of the cost reports: where its rows come from and go."""

    client: AnthropicClient
    quarantine: Quarantine
    start: date
    end: date
    pulled_at: datetime
    summary: BillingPullSummary
    max_pages: int

    def rows(
        self,
        source: str,
        path: str,
        page_size: int,
        report: str,
        request: dict[str, Any],
        build: Callable[..., list[dict]],
        headers: dict[str, str] | None = None,
    ) -> tuple[list[dict], int]:
        """Every row of one listing of the window, and its quarantined records' count."""
        window = {"starting_at": utc_midnight(self.start), "ending_at": utc_midnight(self.end)}
        params = {name: at.isoformat().replace("+00:00", "Z") for name, at in window.items()}
        params |= request

        def fetch() -> list[dict]:
            rows = []
            pages = token_pages(self.client, path, page_size, self.max_pages, params, headers)
            for page in pages:
                provenance = {
                    "source": source,
                    "data_refreshed_at": refreshed_at(page.body),
                    "window_start": utc_midnight(self.start),
                    "window_end": utc_midnight(self.end),
                    "pulled_at": self.pulled_at,
                }
                built = self.quarantine.rows(report, page, partial(build, provenance=provenance))
                rows += [row for rows_of_record in built for row in rows_of_record]
            return rows

        return _listing(self.summary, self.quarantine, fetch, path)


def _pull_cost_window(
    clients: BillingClients,
    layout: DataLayout,
    start: date,
    end: date,
    pulled_at: datetime,
    summary: BillingPullSummary,
    max_pages: int,
) -> None:
    quarantine = _quarantine(layout, clients.cost, summary)
    window = _CostWindow(clients.cost, quarantine, start, end, pulled_at, summary, max_pages)
    try:
        totals, breakdown = _beta_cost(window)
        source = BETA
    except AnthropicApiError as error:
        # 403/404: the beta is not available to this organisation; the legacy report is.
        if error.status not in (403, 404) or error.path != BETA_COST:
            raise
        if clients.admin is None:
            raise AnthropicApiError(
                error.status,
                error.error_type,
                f"the cost beta is not available and the legacy cost_report needs {ADMIN_API_KEY}",
                error.request_id,
                error.path,
            ) from None
        totals, breakdown = _legacy_cost(replace(window, client=clients.admin))
        source = LEGACY
    summary.windows.append((start, end, source))
    if totals[1] or breakdown[1]:
        # A quarantined record may have been a day's only figure: rewriting the window would
        # turn a known cost into none. Its days keep what an earlier pull landed.
        summary.notices.append(
            f"Billed cost {start} to {end - timedelta(days=1)}: {totals[1] + breakdown[1]}"
            " malformed record(s) quarantined, so these days keep what was landed before."
        )
        return
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    _land_days(layout, "cost_totals", "cost_date", COST_TOTALS_SCHEMA, totals[0], days, summary)
    _land_days(
        layout, "cost_breakdown", "cost_date", COST_BREAKDOWN_SCHEMA, breakdown[0], days, summary
    )


def _beta_row(item: object, provenance: dict[str, Any]) -> list[dict]:
    return [beta_cost_row(item, provenance)]


def _beta_cost(window: _CostWindow) -> tuple[tuple[list[dict], int], tuple[list[dict], int]]:
    """The window's daily totals (ungrouped) and breakdown (grouped) from the beta."""

    def listing(report: str, group_by: list[str] | None) -> tuple[list[dict], int]:
        params = {"time_bucket_width": "1d", "group_by[]": group_by}
        return window.rows(BETA, BETA_COST, BETA_PAGE, report, params, _beta_row, BETA_HEADER)

    totals = listing("cost_totals", None)
    for row in totals[0]:
        if any(row[name] is not None for name in BREAKDOWN_DIMENSIONS):
            raise AnthropicApiError(
                200, "invalid_response", "an ungrouped cost row carries a group", None, BETA_COST
            )
    return totals, listing("cost_breakdown", list(BREAKDOWN_DIMENSIONS))


def _legacy_cost(window: _CostWindow) -> tuple[tuple[list[dict], int], tuple[list[dict], int]]:
    """The window's daily totals and breakdown from the Admin API's legacy cost_report."""

    def listing(report: str, group_by: list[str] | None) -> tuple[list[dict], int]:
        params = {"group_by[]": group_by}
        return window.rows(LEGACY, LEGACY_COST, LEGACY_PAGE, report, params, legacy_cost_rows)

    totals = listing("cost_totals", None)
    # An ungrouped bucket holds one result (or none); several would be a breakdown.
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in totals[0]:
        by_day[row["cost_date"]].append(row)
    if any(len(rows) > 1 for rows in by_day.values()):
        raise AnthropicApiError(
            200, "invalid_response", "an ungrouped bucket holds several results", None, LEGACY_COST
        )
    # `description` is what fills model, cost type and token type in the legacy report.
    return totals, listing("cost_breakdown", ["workspace_id", "description"])


def _pull_claude_code(
    client: AnthropicClient,
    layout: DataLayout,
    first: date,
    last: date,
    pulled_at: datetime,
    summary: BillingPullSummary,
    max_pages: int,
) -> None:
    """Claude Code Analytics, one UTC day per request (the endpoint takes no range)."""
    quarantine = _quarantine(layout, client, summary)
    day = first
    while day <= last:
        params = {"starting_at": day.isoformat()}

        def fetch(day: date = day, params: dict = params) -> list[tuple[dict, list[dict]]]:
            records = []
            for page in token_pages(client, CLAUDE_CODE, CLAUDE_CODE_PAGE, max_pages, params):
                build = partial(claude_code_rows, usage_date=day, pulled_at=pulled_at)
                records += quarantine.rows("claude_code", page, build)
            return records

        records, quarantined = _listing(summary, quarantine, fetch, CLAUDE_CODE)
        if quarantined:
            summary.notices.append(
                f"Claude Code Analytics {day}: {quarantined} malformed record(s) quarantined,"
                " so the day keeps what was landed before."
            )
            day += timedelta(days=1)
            continue
        users = [user for user, _ in records]
        models = [model for _, rows in records for model in rows]
        _land_days(
            layout,
            "claude_code_users",
            "usage_date",
            CLAUDE_CODE_USERS_SCHEMA,
            users,
            [day],
            summary,
        )
        _land_days(
            layout,
            "claude_code_models",
            "usage_date",
            CLAUDE_CODE_MODELS_SCHEMA,
            models,
            [day],
            summary,
        )
        day += timedelta(days=1)


def _land_days(
    layout: DataLayout,
    report: str,
    date_column: str,
    schema: pa.Schema,
    rows: list[dict],
    days: list[date],
    summary: BillingPullSummary,
) -> None:
    """Rewrite each day's file of a report whole (an empty file for a day without rows)."""
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
    for day in days:
        table = pa.Table.from_pylist(by_day.get(day, []), schema=schema)
        write_parquet_atomically(
            table, layout.billing(report) / f"{date_column}={day.isoformat()}" / "part.parquet"
        )
        summary.days_replaced[report] = summary.days_replaced.get(report, 0) + 1
    summary.records[report] = summary.records.get(report, 0) + len(rows)
