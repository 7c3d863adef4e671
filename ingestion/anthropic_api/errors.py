"""How a pull from an Anthropic API fails: one line naming method, path and what went wrong.

Every kind is an `AnthropicApiError`, so the CLI and the Dagster assets catch them all in
one place, and a `UserError`, so the CLI prints the line without a traceback. Messages
carry server text only after redaction (the client's job), never the key.
"""

from __future__ import annotations

from configuration.errors import UserError


class AnthropicApiError(UserError, RuntimeError):
    """A request or a pagination that failed for good, with what the API said.

    Args:
        status: the HTTP status, None when no response came.
        error_type: the API's error type, or ours (`invalid_response`, `deadline_exceeded`).
        message: what went wrong, already redacted.
        request_id: the `request-id` header, already redacted.
        path: the endpoint path (no query: the query is ours and holds nothing secret,
            but it makes the line long).
    """

    def __init__(
        self,
        status: int | None,
        error_type: str,
        message: str,
        request_id: str | None,
        path: str,
        method: str = "GET",
    ):
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        self.path = path
        self.method = method
        super().__init__(
            f"{method} {path} failed: {status or 'no response'} {error_type}: {message}"
            + (f" (request-id {request_id})" if request_id else "")
        )


class InvalidResponseError(AnthropicApiError):
    """A 200 whose body is not a JSON object (a proxy's HTML page, a truncated body)."""


class DeadlineExceededError(AnthropicApiError):
    """A response slower than the request deadline, or a pull past its deadline."""


class PaginationError(AnthropicApiError):
    """A listing that would not end: a repeated cursor or page token, or too many pages."""

    def __init__(self, path: str, status: int, error_type: str, message: str):
        super().__init__(status, error_type, message, None, path)


class CursorRefusedError(AnthropicApiError):
    """A page cursor refused: expired (410) or issued for other parameters (400).

    The listing can start again from its first page.
    """
