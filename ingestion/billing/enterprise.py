"""Pull the Enterprise Analytics API: engagement per user and day, and the daily summaries.

`/v1/organizations/analytics/users` is asked for one `date` per request, never as a
rollup over `starting_date`/`ending_date`, whose distinct counts are approximate
(HyperLogLog, §1.5). `/summaries` is asked for ranges of at most 31 days (`starting_date`
inclusive, `ending_date` exclusive). Both land as whole days beside the other billing
reports (`enterprise_users`, `enterprise_summaries`), so their counts can be reconciled
with the OTel marts.

Engagement data lags (about three days, and it varies by query): a day past the latest
available one is a 400 that names that day. The pull window then ends at the named day,
with a notice, instead of failing; a later run pulls the rest.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import partial

from ingestion.anthropic_api.errors import AnthropicApiError, CursorRefusedError
from ingestion.billing.listing import Listings, days_of, windows
from ingestion.billing.records import enterprise_summary_row, enterprise_user_row

USERS = "/v1/organizations/analytics/users"
SUMMARIES = "/v1/organizations/analytics/summaries"
USERS_PAGE = 1000  # the documented maximum
SUMMARIES_PAGE = 1000  # the series comes whole (`next_page` is always null)
LABEL = "Enterprise Analytics"
_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def latest_available_day(error: AnthropicApiError, requested: date) -> date | None:
    """The latest available day, if `error` is the 400 a too-recent `requested` day gets.

    That 400 names the latest available day: a date before `requested` in its message.
    Any other error gives None.
    """
    if error.status != 400 or isinstance(error, CursorRefusedError):
        return None
    named = []
    for text in _DAY.findall(str(error)):
        try:
            named.append(date.fromisoformat(text))
        except ValueError:
            continue
    return max((day for day in named if day < requested), default=None)


def pull_enterprise(listings: Listings, first: date, last: date) -> None:
    """Land the daily summaries and each day's user activity of first..last.

    Raises:
        AnthropicApiError: a request that failed for good (a too-recent day does not).
    """
    available = _pull_summaries(listings, first, last)
    available = _pull_users(listings, first, available)
    if available < last:
        skipped = max(available + timedelta(days=1), first)
        listings.summary.notices.append(
            f"{LABEL}: the latest available day is {available}, so the window ends there;"
            f" {skipped} to {last} are pulled by a later run."
        )


def _pull_summaries(listings: Listings, first: date, last: date) -> date:
    """Land the summaries of first..last, in ranges of at most 31 days.

    Returns:
        The last day asked for, or the latest available day a too-recent range's 400 named.
    """
    build = partial(enterprise_summary_row, pulled_at=listings.pulled_at)

    def summaries(start: date, end: date) -> tuple[list[dict], int]:
        params = {"starting_date": start.isoformat(), "ending_date": end.isoformat()}
        return listings.records(
            "enterprise_summaries", SUMMARIES, SUMMARIES_PAGE, params, lambda page: build
        )

    for start, end in windows(first, last):
        try:
            rows, quarantined = summaries(start, end)
        except AnthropicApiError as error:
            latest = latest_available_day(error, end - timedelta(days=1))
            if latest is None:
                raise
            if latest < start:
                return latest
            end = latest + timedelta(days=1)
            rows, quarantined = summaries(start, end)
            last = latest
        listings.land(LABEL, days_of(start, end), quarantined, {"enterprise_summaries": rows})
        if end > last:
            break
    return last


def _pull_users(listings: Listings, first: date, last: date) -> date:
    """Land each day's user activity of first..last, one `date` per request.

    Returns:
        The last day asked for, or the latest available day a too-recent day's 400 named.
    """
    for day in days_of(first, last + timedelta(days=1)):
        build = partial(enterprise_user_row, usage_date=day, pulled_at=listings.pulled_at)
        params = {"date": day.isoformat()}
        try:
            rows, quarantined = listings.records(
                "enterprise_users", USERS, USERS_PAGE, params, lambda page, build=build: build
            )
        except AnthropicApiError as error:
            latest = latest_available_day(error, day)
            if latest is None:
                raise
            return latest
        listings.land(f"{LABEL} users", [day], quarantined, {"enterprise_users": rows})
    return last
