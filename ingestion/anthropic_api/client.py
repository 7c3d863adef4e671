"""A polite, fault-tolerant client for Anthropic's APIs (httpx + tenacity).

One client for every API the product pulls (Compliance, billing and analytics), each with
its own request budget. Politeness: a client-side limiter keeps under the API's budget
(600 requests/minute for the Compliance API, shared by a parent organisation's keys; 60 for
the analytics APIs). Faults: 429 waits at least `retry-after`; 5xx and 529 back
off exponentially with jitter; `x-should-retry: false` is final; 400/401/403/404 fail at
once with status, error type and request id. The API key is sent as `x-api-key` and never
appears in a message, a log line or an exception: server text is redacted first.

Limits: a response must arrive whole within the request deadline (httpx's read timeout is
per read, so a server sending a byte a second would otherwise hold a pull for ever), and
inside `deadline()` no request starts or waits past the pull's deadline. A 200 whose body
is not a JSON object is retried a few times (a proxy's error page may pass), then named.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from configuration.errors import ConfigurationError
from configuration.settings import DEFAULT_ANTHROPIC_BASE_URL
from ingestion.anthropic_api.errors import (
    AnthropicApiError,
    DeadlineExceededError,
    InvalidResponseError,
)
from ingestion.redaction import protect_http_logs, redact, redact_keys

LOGGER = logging.getLogger(__name__)
ANTHROPIC_VERSION = "2023-06-01"
RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}
# The largest real page (5,000 activities) is a few megabytes; a few minutes is generous
# even on a slow link, and bounds what one stuck response can cost.
REQUEST_DEADLINE_SECONDS = 300.0
MAX_BODY_BYTES = 256 * 1024 * 1024
INVALID_BODY_ATTEMPTS = 3
# Server text kept in a message: enough to act on, one line, and cheap to redact.
SERVER_TEXT_CHARS = 300
_SERVER_TEXT_SCAN = 64 * 1024


class _Retryable(Exception):
    """A failure worth another attempt.

    Args:
        error: what to raise when the attempts run out.
        retry_after: the server's minimum wait in seconds.
        attempts: a lower attempt limit for this kind of failure than the client's.
    """

    def __init__(
        self, error: AnthropicApiError, retry_after: float | None, attempts: int | None = None
    ):
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.attempts = attempts


class _TooSlow(Exception):
    """The response did not arrive whole within its time budget."""

    def __init__(self, status: int | None):
        super().__init__(status)
        self.status = status


class RateLimiter:
    """A token bucket: at most `per_minute` requests in any minute, spread evenly."""

    def __init__(self, per_minute: float, burst: int = 10):
        self.interval = 60.0 / per_minute
        self.burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a token; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) * self.interval
            self._tokens -= 1
        if wait:
            time.sleep(wait)
        return wait


@dataclass
class RequestStats:
    """What a pull cost: requests, retries, and time spent waiting."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    failures_by_status: dict[str, int] = field(default_factory=dict)


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _error_details(body: bytes) -> tuple[str, str]:
    """The API's error type and message (unredacted), or the start of a non-JSON body."""
    try:
        error = json.loads(body)["error"]
        return str(error.get("type", "unknown_error")), str(error.get("message", ""))
    except (ValueError, RecursionError, TypeError, KeyError, AttributeError):
        return "unknown_error", body[:_SERVER_TEXT_SCAN].decode("utf-8", errors="replace")


def _seconds(value: str | None) -> float | None:
    """A `retry-after` in seconds; None when absent or not a sane number (an HTTP date)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def _capped(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """`timeout` with no phase longer than `seconds` (a read cannot outlast the deadline)."""

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


class AnthropicClient:
    """GETs against one Anthropic API with limits, retries and clear errors.

    Args:
        api_key: the key (sent as `x-api-key`).
        base_url: the API origin.
        key_variable: the setting the key comes from, named when it is missing.
        requests_per_minute: the API's request budget (a private limiter's rate).
        headers: more headers of every request (e.g. `anthropic-beta`).
        exact_numbers: read JSON numbers with a fraction as `Decimal`, not float (money).
        max_attempts: attempts per request, first one included; sized so that a pull under
            30 % injected faults completes (0.3**8 is one request in 15,000).
        backoff_base: first exponential backoff step in seconds (doubles, with jitter).
        backoff_cap: longest single wait in seconds.
        limiter: a shared request budget; None for a private one at `requests_per_minute`.
        timeout: httpx's per-phase timeouts (connect, each read, ...).
        transport: an httpx transport (tests may pass one; the real network otherwise).
        seed: seed of the backoff jitter.
        request_deadline: seconds for a whole response, body included, per attempt.
        max_body_bytes: a larger body is refused (a runaway server must not fill memory).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_ANTHROPIC_BASE_URL,
        *,
        key_variable: str = "the API key",
        requests_per_minute: float = 60,
        headers: dict[str, str] | None = None,
        exact_numbers: bool = False,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
        request_deadline: float = REQUEST_DEADLINE_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        if not api_key:
            raise ConfigurationError(f"no API key: set {key_variable}")
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "x-api-key": api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "user-agent": "cowork-analytics",
                **(headers or {}),
            },
            timeout=timeout or httpx.Timeout(10.0, read=60.0),
            transport=transport,
        )
        self._secrets = (api_key,)
        protect_http_logs(api_key)
        self._deadline: tuple[float, float] | None = None  # (monotonic end, seconds)
        self.request_deadline = request_deadline
        self.max_body_bytes = max_body_bytes
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.limiter = limiter or RateLimiter(requests_per_minute)
        self.stats = RequestStats()
        self._jitter = random.Random(seed)
        self._parse_float = Decimal if exact_numbers else float

    def redact(self, text: str, *, thorough: bool = True) -> str:
        """`text` (from a server) without the key or anything shaped like a key.

        Args:
            text: server text.
            thorough: also redact credential-like values and long tokens (for messages and
                logs); False keeps all but the key and Anthropic-shaped keys (stored data).
        """
        return redact(text, self._secrets) if thorough else redact_keys(text, self._secrets)

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Within the block, no request starts, and no retry waits, past `seconds` from now.

        Raises:
            DeadlineExceededError: from `get`, once the deadline has passed.
        """
        previous = self._deadline
        self._deadline = (time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            self._deadline = previous

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline[0] - time.monotonic()

    def _budget(self, path: str) -> float:
        """Seconds the next attempt may take: the request deadline, or less near the pull's."""
        remaining = self._remaining()
        if remaining is None:
            return self.request_deadline
        if remaining <= 0:
            raise DeadlineExceededError(
                None,
                "deadline_exceeded",
                f"the pull deadline of {self._deadline[1]:g} s passed",
                None,
                path,
            )
        return min(self.request_deadline, remaining)

    def _count_failure(self, kind: str) -> None:
        self.stats.failures_by_status[kind] = self.stats.failures_by_status.get(kind, 0) + 1

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = min(self.backoff_cap, self.backoff_base * 2 ** (state.attempt_number - 1))
        backoff *= self._jitter.uniform(0.5, 1.0)
        retry_after = getattr(error, "retry_after", None)
        wait = max(backoff, retry_after) if retry_after is not None else backoff
        remaining = self._remaining()
        if remaining is not None:
            wait = min(wait, max(remaining, 0.0))  # the next attempt then reports the deadline
        self.stats.retries += 1
        self.stats.waited_seconds += wait
        return wait

    def _stop(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        limit = getattr(error, "attempts", None) or self.max_attempts
        return state.attempt_number >= min(limit, self.max_attempts)

    def _fetch(
        self, path: str, params: dict[str, Any], headers: dict[str, str], budget: float
    ) -> tuple[httpx.Response, bytes]:
        """The response and its whole body, within `budget` seconds of wall clock.

        The body is streamed and the clock checked after every chunk; each read's own
        timeout is capped at the budget, so a silent server cannot outlast it either.
        """
        started = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        timeout = _capped(self._http.timeout, budget)
        stream = self._http.stream("GET", path, params=params, headers=headers, timeout=timeout)
        with stream as response:
            for chunk in response.iter_bytes():
                if time.monotonic() - started > budget:
                    raise _TooSlow(response.status_code)
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise InvalidResponseError(
                        response.status_code,
                        "invalid_response",
                        f"the body is larger than {self.max_body_bytes} bytes",
                        self._request_id(response),
                        path,
                    )
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _request_id(self, response: httpx.Response) -> str | None:
        request_id = response.headers.get("request-id")
        return _one_line(self.redact(request_id), 100) if request_id else None

    def _too_slow(self, path: str, status: int | None, budget: float) -> _Retryable:
        self._count_failure("deadline")
        limit = (
            f"the request deadline of {self.request_deadline:g} s"
            if budget >= self.request_deadline
            else f"the pull deadline of {self._deadline[1]:g} s"
        )
        failure = DeadlineExceededError(
            status, "deadline_exceeded", f"no whole response within {limit}", None, path
        )
        return _Retryable(failure, None)

    def _json_object(self, response: httpx.Response, body: bytes, path: str) -> dict[str, Any]:
        """The body as a JSON object, or a retryable InvalidResponseError naming its type."""
        try:
            document = json.loads(body, parse_float=self._parse_float)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            document = None
        if isinstance(document, dict):
            return document
        self._count_failure("invalid_response")
        content_type = _one_line(self.redact(response.headers.get("content-type", "none")), 80)
        failure = InvalidResponseError(
            response.status_code,
            "invalid_response",
            f"the body is not a JSON object (content-type {content_type}, {len(body)} bytes)",
            self._request_id(response),
            path,
        )
        raise _Retryable(failure, None, attempts=INVALID_BODY_ATTEMPTS)

    def _attempt(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        budget = self._budget(path)
        self.stats.waited_seconds += self.limiter.acquire()
        self.stats.requests += 1
        started = time.monotonic()
        try:
            response, body = self._fetch(path, params, headers, budget)
        except _TooSlow as slow:
            raise self._too_slow(path, slow.status, budget) from None
        except httpx.TransportError as error:
            if time.monotonic() - started >= budget:
                raise self._too_slow(path, None, budget) from None
            failure = AnthropicApiError(None, type(error).__name__, "transport error", None, path)
            self._count_failure("transport")
            raise _Retryable(failure, None) from None
        if response.status_code == 200:
            return self._json_object(response, body, path)
        error_type, message = _error_details(body)
        failure = AnthropicApiError(
            response.status_code,
            _one_line(self.redact(error_type[:_SERVER_TEXT_SCAN]), 80),
            _one_line(self.redact(message[:_SERVER_TEXT_SCAN]), SERVER_TEXT_CHARS),
            self._request_id(response),
            path,
        )
        self._count_failure(str(response.status_code))
        should_retry = response.headers.get("x-should-retry", "").lower() != "false"
        if response.status_code in RETRYABLE_STATUSES and should_retry:
            raise _Retryable(failure, _seconds(response.headers.get("retry-after")))
        raise failure

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON page, retrying what is worth retrying.

        `headers` are added to this request's (e.g. one endpoint's `anthropic-beta`).

        Raises:
            AnthropicApiError: a final failure, or retries exhausted.
        """
        clean = {key: value for key, value in (params or {}).items() if value is not None}
        retrying = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(path, clean, headers or {})
        except _Retryable as exhausted:
            LOGGER.warning(
                "%s: giving up after %d attempts",
                path,
                retrying.statistics.get("attempt_number", 0),
            )
            raise exhausted.error from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> AnthropicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
