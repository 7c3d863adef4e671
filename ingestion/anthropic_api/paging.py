"""Listings that end: a repeated cursor or page token, or too many pages, stops with an error.

A server that answers `has_more: true` with the cursor it was just given would otherwise
be followed for ever (spending the organisation's whole request budget), and because the
activity cursor is persisted, every later run would loop again. A guard remembers every
cursor one pull has followed on an endpoint and counts its pages; the caller commits a
cursor only after the guard accepted it, so the committed cursor is always the last good
page's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ingestion.anthropic_api.client import AnthropicClient
from ingestion.anthropic_api.errors import AnthropicApiError, CursorRefusedError, PaginationError
from ingestion.anthropic_api.records import describe

# 10,000 pages is 50 million activities at the 5,000 maximum, or 17 minutes of the whole
# 600/minute budget: far above a real listing, far below for ever.
MAX_PAGES = 10_000
# An hourly schedule: a pull still going after an hour is stuck; the activity cursor is
# committed page by page, so the next run resumes where this one stopped.
PULL_SECONDS = 3600.0


@dataclass(frozen=True)
class PullLimits:
    """How far one pull may go before it stops with an error naming the endpoint.

    Args:
        max_pages: pages per endpoint (per organisation or group listing) per pull.
        pull_seconds: wall clock for the whole pull.
    """

    max_pages: int = MAX_PAGES
    pull_seconds: float = PULL_SECONDS


@dataclass(frozen=True)
class Page:
    """One fetched page and where it came from (for quarantine records and errors).

    Args:
        path: the endpoint path.
        params: the query sent (never the key: that is a header).
        number: 1-based, per endpoint and pull.
        cursor: the `after_id` or page token that fetched it; None for the first page.
        body: the response, a JSON object.
    """

    path: str
    params: dict[str, Any]
    number: int
    cursor: str | None
    body: dict[str, Any]


class PageGuard:
    """One endpoint's pages in one pull: counts them and remembers every cursor followed.

    Args:
        path: the endpoint path (named in errors).
        max_pages: the page limit.
        redact: makes server text (a cursor) safe to show.
        start: the cursor the pull starts from (a resumed activity pull), if any.
    """

    def __init__(
        self, path: str, max_pages: int, redact: Callable[[str], str], start: str | None = None
    ):
        self.path = path
        self.max_pages = max_pages
        self.pages = 0
        self._redact = redact
        self._seen = {start} if start else set()

    def next_number(self) -> int:
        """Count the page about to be fetched; returns its number.

        Raises:
            PaginationError: the page limit is reached.
        """
        if self.pages >= self.max_pages:
            raise PaginationError(
                self.path,
                200,
                "page_limit",
                f"stopped after {self.max_pages} pages, the page limit of one pull"
                " (the next run continues where this one stopped)",
            )
        self.pages += 1
        return self.pages

    def follow(self, cursor: object, name: str) -> str:
        """The next cursor, if it is a string this pull has not followed yet.

        Args:
            cursor: what the server sent (`last_id` or `next_page`).
            name: what to call it in an error.

        Raises:
            PaginationError: a missing, non-string or repeated cursor.
        """
        if not isinstance(cursor, str) or not cursor:
            shown = "empty" if cursor == "" else describe(cursor)
            raise PaginationError(
                self.path,
                200,
                "invalid_cursor",
                f"page {self.pages} says there is more, but its {name} is {shown}; stopped",
            )
        if cursor in self._seen:
            shown = self._redact(cursor[:80])
            raise PaginationError(
                self.path,
                200,
                "repeated_cursor",
                f"page {self.pages} repeated {name} {shown!r} of an earlier page, so the listing"
                " would never end; stopped at the last good page",
            )
        self._seen.add(cursor)
        return cursor


def token_pages(
    client: AnthropicClient,
    path: str,
    limit: int,
    max_pages: int,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[Page]:
    """Every page of a `page` / `next_page` listing (`params` and `headers` on each request).

    It ends on `has_more: false`, or on a missing `next_page` when the page says nothing of
    more (session listings send no `has_more`).

    Raises:
        CursorRefusedError: a page's cursor was refused (410 expired, 400 other parameters).
    """
    guard = PageGuard(path, max_pages, client.redact)
    token = None
    while True:
        request = {**(params or {}), "limit": limit, "page": token}
        number = guard.next_number()
        try:
            body = client.get(path, request, headers)
        except AnthropicApiError as error:
            if token is None or error.status not in (400, 410):
                raise
            # Only a request that carried a cursor can have it refused.
            raise CursorRefusedError(
                error.status, error.error_type, str(error), error.request_id, path
            ) from None
        yield Page(path, {k: v for k, v in request.items() if v is not None}, number, token, body)
        more = body.get("has_more")
        if more is False or (more is not True and not body.get("next_page")):
            return
        # `has_more: true` without a token is an error, not the end of the listing.
        token = guard.follow(body.get("next_page"), "page token")


def page_items(body: dict[str, Any]) -> list:
    """The records of a page: `data`, or a non-list `data` as one (malformed) item."""
    data = body.get("data")
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def cursor_pages(
    client: AnthropicClient, path: str, params: dict[str, Any], max_pages: int
) -> Iterator[Page]:
    """Every page of an `after_id` / `last_id` listing (nothing persisted between pulls).

    It ends on `has_more: false` or an empty page.
    """
    guard = PageGuard(path, max_pages, client.redact)
    after = None
    while True:
        request = {**params, "after_id": after}
        number = guard.next_number()
        body = client.get(path, request)
        yield Page(path, {k: v for k, v in request.items() if v is not None}, number, after, body)
        if not body.get("has_more") or not page_items(body):
            return
        after = guard.follow(body.get("last_id"), "last_id")
