"""A polite, fault-tolerant client for Anthropic's Compliance API (httpx + tenacity).

Politeness: a client-side limiter keeps under the 600 requests/minute budget that all keys
of a parent organisation share. Faults: 429 waits at least `retry-after`; 5xx and 529 back
off exponentially with jitter; `x-should-retry: false` is final; 400/401/403/404 fail at
once with status, error type and request id. The API key is sent as `x-api-key` and never
appears in a message, a log line or an exception.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

LOGGER = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://api.anthropic.com"
BASE_URL_VARIABLE = "ANTHROPIC_COMPLIANCE_BASE_URL"
API_KEY_VARIABLE = "ANTHROPIC_COMPLIANCE_API_KEY"
REQUESTS_PER_MINUTE = 600
RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}


class ComplianceApiError(RuntimeError):
    """A request that failed for good, with what the API said (never the key)."""

    def __init__(
        self, status: int | None, error_type: str, message: str, request_id: str | None, path: str
    ):
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        self.path = path
        where = f"GET {path}"
        super().__init__(
            f"{where} failed: {status or 'no response'} {error_type}: {message}"
            + (f" (request-id {request_id})" if request_id else "")
        )


class _Retryable(Exception):
    """A failure worth another attempt; `retry_after` is the server's minimum wait."""

    def __init__(self, error: ComplianceApiError, retry_after: float | None):
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class RateLimiter:
    """A token bucket: at most `per_minute` requests in any minute, spread evenly."""

    def __init__(self, per_minute: float = REQUESTS_PER_MINUTE, burst: int = 10):
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


def _error_details(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("type", "unknown_error")), str(error.get("message", ""))[:300]
    except ValueError:
        return "unknown_error", response.text[:200]


class ComplianceClient:
    """GETs against `/v1/compliance/*` with limits, retries and clear errors.

    Args:
        api_key: the Compliance Access Key (sent as `x-api-key`).
        base_url: the API origin.
        max_attempts: attempts per request, first one included; sized so that a pull under
            30 % injected faults completes (0.3**8 is one request in 15,000).
        backoff_base: first exponential backoff step in seconds (doubles, with jitter).
        backoff_cap: longest single wait in seconds.
        limiter: shared request budget; None for a private one at 600/min.
        transport: an httpx transport (tests may pass one; the real network otherwise).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
    ):
        if not api_key:
            raise ValueError(f"no Compliance API key: set {API_KEY_VARIABLE}")
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "x-api-key": api_key,
                "anthropic-version": "2023-06-01",
                "user-agent": "cowork-analytics",
            },
            timeout=timeout or httpx.Timeout(10.0, read=60.0),
            transport=transport,
        )
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.limiter = limiter or RateLimiter()
        self.stats = RequestStats()
        self._jitter = random.Random(seed)

    @classmethod
    def from_environment(cls, **options: Any) -> ComplianceClient:
        """A client from ANTHROPIC_COMPLIANCE_API_KEY and ANTHROPIC_COMPLIANCE_BASE_URL.

        Raises:
            ValueError: the key variable is unset or empty (the message names it).
        """
        key = os.environ.get(API_KEY_VARIABLE, "")
        if not key:
            raise ValueError(f"{API_KEY_VARIABLE} is not set: the Compliance API needs a key")
        return cls(key, os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL, **options)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = min(self.backoff_cap, self.backoff_base * 2 ** (state.attempt_number - 1))
        backoff *= self._jitter.uniform(0.5, 1.0)
        retry_after = getattr(error, "retry_after", None)
        wait = max(backoff, retry_after) if retry_after is not None else backoff
        self.stats.retries += 1
        self.stats.waited_seconds += wait
        return wait

    def _attempt(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self.stats.waited_seconds += self.limiter.acquire()
        self.stats.requests += 1
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as error:
            failure = ComplianceApiError(None, type(error).__name__, "transport error", None, path)
            self.stats.failures_by_status["transport"] = (
                self.stats.failures_by_status.get("transport", 0) + 1
            )
            raise _Retryable(failure, None) from None
        if response.status_code == 200:
            return response.json()
        error_type, message = _error_details(response)
        failure = ComplianceApiError(
            response.status_code, error_type, message, response.headers.get("request-id"), path
        )
        status = str(response.status_code)
        self.stats.failures_by_status[status] = self.stats.failures_by_status.get(status, 0) + 1
        should_retry = response.headers.get("x-should-retry", "").lower() != "false"
        if response.status_code in RETRYABLE_STATUSES and should_retry:
            retry_after = response.headers.get("retry-after")
            raise _Retryable(failure, float(retry_after) if retry_after else None)
        raise failure

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON page, retrying what is worth retrying.

        Raises:
            ComplianceApiError: a final failure, or retries exhausted.
        """
        clean = {key: value for key, value in (params or {}).items() if value is not None}
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(path, clean)
        except _Retryable as exhausted:
            LOGGER.warning("%s: giving up after %d attempts", path, self.max_attempts)
            raise exhausted.error from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ComplianceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
