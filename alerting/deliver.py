"""POST an alert to the webhook, retrying what is worth retrying; never raise.

Connection errors, timeouts, 5xx and 429 are retried with exponential backoff (at least the
server's `Retry-After` when it sends one, capped); other 4xx are final. The webhook URL is
a secret (Slack's carries its token in the path): it never appears in a log line, an error
or an outcome, only its host does. httpx logs every request's URL at INFO, so a filter on
the `httpx` and `httpcore` loggers replaces the URL with its host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

LOGGER = logging.getLogger(__name__)
RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def webhook_host(url: str) -> str:
    """The part of the URL that may be logged: its host (and port)."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or "webhook"


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one POST: delivered or not, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None  # never holds the URL


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _HideUrl(logging.Filter):
    """Rewrite log records that mention the webhook URL to show only its host."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.host = webhook_host(url)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.url in message or urlsplit(self.url).path in message:
            record.msg = message.replace(self.url, f"<webhook {self.host}>")
            record.msg = record.msg.replace(urlsplit(self.url).path, "/<redacted>")
            record.args = None
        return True


def _hide_from_http_logs(url: str) -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideUrl) and f.url == url for f in logger.filters):
            logger.addFilter(_HideUrl(url))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: wait the normal backoff
        return None


class WebhookSender:
    """Posts JSON payloads to one webhook.

    Args:
        url: the webhook URL (a secret).
        max_attempts: attempts per alert, first included.
        backoff_base: first backoff in seconds (doubles each attempt).
        backoff_cap: longest single wait in seconds (a larger `Retry-After` is capped too,
            so a run never hangs on one receiver).
        timeout: per-request timeout in seconds.
        sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        timeout: float = 10.0,
        sleep=None,
    ):
        self.url = url
        self.host = webhook_host(url)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        _hide_from_http_logs(url)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"user-agent": "cowork-analytics-alerts"},
            follow_redirects=False,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = self.backoff_base * 2 ** (state.attempt_number - 1)
        retry_after = getattr(error, "retry_after", None)
        wait = max(backoff, retry_after) if retry_after is not None else backoff
        return min(wait, self.backoff_cap)

    def _attempt(self, payload: dict[str, Any]) -> int:
        try:
            response = self._http.post(self.url, json=payload)
        except httpx.TimeoutException as error:
            raise _Retryable(f"timeout ({type(error).__name__})", None) from None
        except httpx.TransportError as error:
            raise _Retryable(f"connection failed ({type(error).__name__})", None) from None
        if response.is_success:
            return response.status_code
        reason = f"HTTP {response.status_code}"
        if response.status_code in RETRYABLE_STATUSES:
            raise _Retryable(reason, response.status_code, _retry_after(response))
        raise _Final(reason, response.status_code)

    def send(self, payload: dict[str, Any]) -> DeliveryOutcome:
        """POST `payload`; retries, then gives up with an outcome. Never raises."""
        attempts = 0
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
            **({"sleep": self._sleep} if self._sleep else {}),
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    status = self._attempt(payload)
                    return DeliveryOutcome(True, attempts, status)
        except _Retryable as error:
            LOGGER.warning(
                "alert webhook %s: %s, giving up after %d attempts",
                self.host,
                error.reason,
                attempts,
            )
            return DeliveryOutcome(False, attempts, error.status, error.reason)
        except _Final as error:
            LOGGER.warning("alert webhook %s refused the alert: %s", self.host, error.reason)
            return DeliveryOutcome(False, attempts, error.status, error.reason)
        except Exception as error:  # a delivery must never fail the pipeline
            LOGGER.warning("alert webhook %s: unexpected %s", self.host, type(error).__name__)
            return DeliveryOutcome(False, attempts, None, f"unexpected {type(error).__name__}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Final(Exception):
    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.reason = reason
        self.status = status
