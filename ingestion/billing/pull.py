"""Pull what Anthropic bills, estimates and counts of an organisation's usage, by day.

Three sources: the cost reports (billed), Claude Code Analytics (estimates) and the
Enterprise Analytics API (engagement counts, `ingestion.billing.enterprise`).

Billed cost comes from the Usage and Cost Analytics API (beta) when the organisation has it,
else from the Admin API's legacy `cost_report`: one source per pull window, never both. Each
source is asked twice per window: ungrouped (the day's totals, the only figures to add up)
and grouped by product, model, cost type, token type and workspace (a breakdown: a bucket
keeps its top 100 groups with no remainder row, so its rows are never summed into totals).

Cost is provisional for about 30 days, so every pull re-reads a trailing window (the
backfill) and rewrites each of its days whole (`ingestion.billing.listing`): a restated day
replaces what an earlier pull landed, never adds to it. An expired cursor (410) or a cursor
refused for changed parameters (400) restarts that window's listing. The analytics sources
share the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from configuration.settings import (
    ADMIN_API_KEY,
    ANALYTICS_API_KEY,
    DEFAULT_BILLING_BACKFILL_DAYS,
    MAXIMUM_BILLING_BACKFILL_DAYS,
    Settings,
)
from ingestion.anthropic_api.client import AnthropicClient, RateLimiter
from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.anthropic_api.paging import MAX_PAGES, Page
from ingestion.billing.enterprise import pull_enterprise
from ingestion.billing.listing import BillingPullSummary, Listings, days_of, windows
from ingestion.billing.records import (
    BETA,
    BREAKDOWN_DIMENSIONS,
    LEGACY,
    beta_cost_row,
    claude_code_rows,
    legacy_cost_rows,
    refreshed_at,
    utc_midnight,
    zero_cost_row,
)
from ingestion.erasure_register import RegisterGuard
from ingestion.paths import DataLayout

BETA_HEADER = {"anthropic-beta": "analytics-usage-cost-2026-08-24"}
BETA_COST = "/v1/organizations/analytics/cost"
LEGACY_COST = "/v1/organizations/cost_report"
CLAUDE_CODE = "/v1/organizations/usage_report/claude_code"
# 60 requests a minute per organisation for the Analytics APIs (§1.5); the Admin API
# publishes none, and once a minute is its documented polling pace: the same budget. A
# little under it and no burst, so that no sliding minute ever holds more than 60.
REQUESTS_PER_MINUTE = 58
EARLIEST_DAY = date(2026, 1, 1)  # no cost or usage data before (§1.5)
BETA_PAGE = 1000
LEGACY_PAGE = 31
CLAUDE_CODE_PAGE = 1000


@dataclass(frozen=True)
class BillingClients:
    """The clients a billing pull uses; None where no key is configured.

    `cost` reads the cost reports (the beta with an Admin or analytics key; the legacy
    fallback needs the Admin key), `admin` reads Claude Code Analytics, `analytics` (the
    `read:analytics` key) the Enterprise Analytics API.
    """

    cost: AnthropicClient | None
    admin: AnthropicClient | None
    analytics: AnthropicClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> BillingClients:
        """Clients with the settings' keys and base URL (money read exactly)."""
        # One budget for every key: they belong to one organisation.
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
        analytics = client(ANALYTICS_API_KEY, settings.analytics_api_key)
        return cls(admin or analytics, admin, analytics)

    def distinct(self) -> list[AnthropicClient]:
        """Each configured client once (the cost client is the admin or analytics one)."""
        clients = (self.cost, self.admin, self.analytics)
        return list({id(c): c for c in clients if c is not None}.values())

    def close(self) -> None:
        """Close the connection pools."""
        for client in self.distinct():
            client.close()


def pull_billing(
    clients: BillingClients,
    layout: DataLayout,
    *,
    backfill_days: int = DEFAULT_BILLING_BACKFILL_DAYS,
    today: date | None = None,
    max_pages: int = MAX_PAGES,
    erasure_pepper: bytes | None = None,
    keep_days: int | None = None,
) -> BillingPullSummary:
    """Pull the trailing `backfill_days` days of cost, Claude Code and Enterprise Analytics.

    The window ends with yesterday (UTC): today's buckets are still filling, and starts no
    earlier than the landing keeps (`keep_days`, the raw retention: a day landed before it
    would be dropped by the next retention pass). Each source without a client is skipped
    with one notice. Rows of people in the erasure register are dropped (`erasure_pepper`:
    `COWORK_PII_PEPPER` whenever it is set, a key of its hashes).

    Raises:
        AnthropicApiError: a pull that failed for good (one redacted line).
        RegisterKeyError: the erasure register needs a key not given (before any request).
    """
    if not 1 <= backfill_days <= MAXIMUM_BILLING_BACKFILL_DAYS:
        raise ValueError(f"backfill_days must be 1 to {MAXIMUM_BILLING_BACKFILL_DAYS}")
    guard = RegisterGuard(layout, erasure_pepper)
    today = today or datetime.now(UTC).date()
    last = today - timedelta(days=1)
    if keep_days is not None:
        backfill_days = min(backfill_days, keep_days)
    first = max(today - timedelta(days=backfill_days), EARLIEST_DAY)
    summary = BillingPullSummary()
    pulled_at = datetime.now(UTC)

    def listings(client: AnthropicClient) -> Listings:
        return Listings(client, layout, summary, pulled_at, max_pages, guard)

    if clients.cost is None:
        summary.notices.append(
            f"Billed cost: neither {ADMIN_API_KEY} nor {ANALYTICS_API_KEY} is set, so the cost"
            " reports are skipped."
        )
    else:
        beta = True
        for start, end in windows(first, last):
            # Once the beta refused this organisation, the later windows go straight to the
            # legacy report instead of spending a request of the budget on each refusal.
            beta = _pull_cost_window(clients, listings(clients.cost), start, end, beta=beta)
    if clients.admin is None:
        summary.notices.append(
            f"Claude Code Analytics: {ADMIN_API_KEY} is not set, so its estimates are skipped."
        )
    else:
        _pull_claude_code(listings(clients.admin), first, last)
    if clients.analytics is None:
        summary.notices.append(
            f"Enterprise Analytics: {ANALYTICS_API_KEY} is not set, so user activity and the"
            " daily summaries are skipped."
        )
    else:
        pull_enterprise(listings(clients.analytics), first, last)
    for client in clients.distinct():
        summary.requests += client.stats.requests
        summary.retries += client.stats.retries
        summary.waited_seconds += client.stats.waited_seconds
    return summary


@dataclass(frozen=True)
class _CostWindow:
    """One pull window of the cost reports: its listings and days."""

    listings: Listings
    start: date
    end: date

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

        def build_of(page: Page) -> Callable[[object], list[dict]]:
            provenance = {
                "source": source,
                "data_refreshed_at": refreshed_at(page.body),
                "window_start": window["starting_at"],
                "window_end": window["ending_at"],
                "pulled_at": self.listings.pulled_at,
            }
            return partial(build, provenance=provenance)

        built, quarantined = self.listings.records(
            report, path, page_size, params, build_of, headers
        )
        return [row for rows_of_record in built for row in rows_of_record], quarantined


def _pull_cost_window(
    clients: BillingClients, listings: Listings, start: date, end: date, *, beta: bool
) -> bool:
    """Land one window's cost from the beta (when `beta`) or else the legacy report.

    Returns:
        Whether the beta served the window.
    """
    window = _CostWindow(listings, start, end)
    source = BETA if beta else LEGACY
    if beta:
        try:
            totals, breakdown = _beta_cost(window)
        except AnthropicApiError as error:
            # 403/404: the beta is not available to this organisation; the legacy report is.
            if error.status not in (403, 404) or error.path != BETA_COST:
                raise
            if clients.admin is None:
                raise AnthropicApiError(
                    error.status,
                    error.error_type,
                    "the cost beta is not available and the legacy cost_report needs"
                    f" {ADMIN_API_KEY}",
                    error.request_id,
                    error.path,
                ) from None
            source = LEGACY
    if source == LEGACY:
        admin = replace(listings, client=clients.admin)
        totals, breakdown = _legacy_cost(replace(window, listings=admin))
    listings.summary.windows.append((start, end, source))
    days = days_of(start, end)
    billed_days = {row["cost_date"] for row in totals[0]}
    provenance = {
        "source": source,
        # A day without a row of its own: the window's latest refresh stands for it.
        "data_refreshed_at": max(
            (row["data_refreshed_at"] for row in totals[0] if row["data_refreshed_at"]),
            default=None,
        ),
        "window_start": utc_midnight(start),
        "window_end": utc_midnight(end),
        "pulled_at": listings.pulled_at,
    }
    totals[0].extend(zero_cost_row(day, provenance) for day in days if day not in billed_days)
    # A quarantined record may have been a day's only figure: rewriting the window would
    # turn a known cost into none, so its days keep what an earlier pull landed.
    listings.land(
        "Billed cost",
        days,
        totals[1] + breakdown[1],
        {"cost_totals": totals[0], "cost_breakdown": breakdown[0]},
    )
    return source == BETA


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


def _pull_claude_code(listings: Listings, first: date, last: date) -> None:
    """Claude Code Analytics, one UTC day per request (the endpoint takes no range)."""
    for day in days_of(first, last + timedelta(days=1)):
        build = partial(claude_code_rows, usage_date=day, pulled_at=listings.pulled_at)
        records, quarantined = listings.records(
            "claude_code",
            CLAUDE_CODE,
            CLAUDE_CODE_PAGE,
            {"starting_at": day.isoformat()},
            lambda page, build=build: build,
        )
        users = [user for user, _ in records]
        models = [model for _, rows in records for model in rows]
        listings.land(
            "Claude Code Analytics",
            [day],
            quarantined,
            {"claude_code_users": users, "claude_code_models": models},
        )
