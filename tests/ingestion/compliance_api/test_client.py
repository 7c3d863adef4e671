"""Client-level limits through httpx.MockTransport: bodies, deadlines, redaction, retries."""

import logging
import time

import httpx
import pytest

from configuration.errors import UserError
from ingestion.anthropic_api.errors import (
    AnthropicApiError,
    DeadlineExceededError,
    InvalidResponseError,
)
from ingestion.compliance_api.client import ComplianceClient

KEY = "sk-ant-api01-SENTINEL-" + "z" * 60
PATH = "/v1/compliance/activities"


def _client(handler, **options) -> tuple[ComplianceClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    options = {"backoff_base": 0.001, "backoff_cap": 0.01, **options}
    client = ComplianceClient(
        KEY, "https://api.example", transport=httpx.MockTransport(recording), **options
    )
    return client, seen


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"a string"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc3\x28 not utf-8", id="invalid utf-8"),
    ],
)
def test_a_200_body_that_is_not_a_json_object_is_retried_then_named(body: bytes) -> None:
    client, seen = _client(lambda request: httpx.Response(200, content=body))
    with pytest.raises(InvalidResponseError, match=rf"^GET {PATH} failed: 200 invalid_response"):
        client.get(PATH)
    assert len(seen) == 3


def test_an_invalid_body_then_a_good_one_succeeds() -> None:
    answers = iter(
        [httpx.Response(200, text="<html>proxy</html>"), httpx.Response(200, json={"data": []})]
    )
    client, _ = _client(lambda request: next(answers))
    assert client.get(PATH) == {"data": []}
    assert client.stats.retries == 1


def test_an_oversized_body_is_refused() -> None:
    client, _ = _client(
        lambda request: httpx.Response(200, content=b" " * 2048), max_body_bytes=1024
    )
    with pytest.raises(InvalidResponseError, match="larger than 1024 bytes"):
        client.get(PATH)


def test_every_new_error_kind_is_a_compliance_api_error_and_a_user_error() -> None:
    for kind in (InvalidResponseError, DeadlineExceededError):
        assert issubclass(kind, AnthropicApiError) and issubclass(kind, UserError)


def test_the_pull_deadline_stops_retrying() -> None:
    # 503 for ever with long backoffs: the deadline, not the attempt count, ends it.
    client, seen = _client(lambda request: httpx.Response(503), backoff_base=0.2, backoff_cap=0.2)
    started = time.monotonic()
    with (
        client.deadline(0.5),
        pytest.raises(DeadlineExceededError, match=f"GET {PATH}.*pull deadline"),
    ):
        client.get(PATH)
    assert time.monotonic() - started < 1.5
    assert 1 < len(seen) < client.max_attempts


def test_a_deadline_already_passed_sends_nothing() -> None:
    client, seen = _client(lambda request: httpx.Response(200, json={}))
    with client.deadline(0), pytest.raises(DeadlineExceededError):
        client.get(PATH)
    assert seen == []


def test_a_deadline_ends_with_its_block() -> None:
    client, _ = _client(lambda request: httpx.Response(200, json={"data": []}))
    with client.deadline(0):
        pass
    assert client.get(PATH) == {"data": []}


def test_server_text_echoing_the_key_is_redacted_everywhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        return httpx.Response(
            503,
            json={"error": {"type": f"type {key}", "message": f"x-api-key: {key}"}},
            headers={"request-id": key, "content-type": f"application/json; k={key}"},
        )

    client, _ = _client(echo, max_attempts=2)
    with pytest.raises(AnthropicApiError) as caught:
        client.get(PATH)
    assert "SENTINEL" not in str(caught.value) and "SENTINEL" not in caplog.text
    assert caught.value.request_id == "[redacted]"


def test_a_non_json_error_body_is_redacted_and_cut_short() -> None:
    body = f"<html>bad key {KEY}</html>" + "x" * 5000
    client, _ = _client(lambda request: httpx.Response(401, text=body))
    with pytest.raises(AnthropicApiError) as caught:
        client.get(PATH)
    message = str(caught.value)
    assert "SENTINEL" not in message and len(message) < 400 and "\n" not in message
