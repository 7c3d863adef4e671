"""Redact anything shaped like a credential from text a server sent us.

Servers and proxies echo request headers in error pages more often than one would hope;
whatever they send is shown to people, logged and sometimes stored, so it passes here first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# Below this length a configured "key" cannot be told from ordinary words (tests use "k").
MIN_SECRET_LENGTH = 8
# Anthropic keys: sk-ant-api01-…, sk-ant-admin01-…, and whatever kind comes next.
_ANTHROPIC_KEY = re.compile(r"sk-ant-[A-Za-z0-9_\-]*")
# A value after a credential-like header or parameter name, whatever its shape.
_NAMED_VALUE = re.compile(
    r"(?i)\b(x-api-key|api[_-]?key|authorization|access[_-]?token|token|secret|password)"
    r"(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?[^\s,;\"'&]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
# Long runs of token characters that mix letters and digits (keys, JWT parts, session
# tokens). "/" and "." split the run, so URL paths and ids of the API stay readable.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+=]{40,}")


def _token(match: re.Match[str]) -> str:
    text = match.group(0)
    mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return REDACTED if mixed else text


def redact_keys(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the exact `secrets` and without Anthropic-shaped keys.

    The narrow rules only, for data kept as it came (a quarantined record): nothing but a
    key is touched.

    Args:
        text: text from a server.
        secrets: exact values to remove wherever they appear (the configured API key);
            values shorter than MIN_SECRET_LENGTH are ignored.

    Returns:
        The redacted text.
    """
    kept = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    for secret in kept:
        text = text.replace(secret, REDACTED)
    return _ANTHROPIC_KEY.sub(REDACTED, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with credentials replaced by `[redacted]`: keys, credential values, long tokens.

    For text shown to people or logged (error messages, headers, body excerpts), where an
    over-eager redaction costs little and a missed key is a leak.

    Args:
        text: text from a server.
        secrets: as for `redact_keys`.

    Returns:
        The redacted text.
    """
    text = redact_keys(text, secrets)
    text = _NAMED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _LONG_TOKEN.sub(_token, text)


class KeyFilter(logging.Filter):
    """Takes registered keys (and Anthropic-shaped keys) out of third-party log records.

    httpx logs a response's status line and httpcore's debug traces its headers: a server
    echoing the key there would otherwise put it in any log with debug enabled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        message = record.getMessage()
        cleaned = redact_keys(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
_FILTER = KeyFilter()


def protect_http_logs(secret: str) -> None:
    """Redact `secret` from everything the HTTP libraries log, from now on."""
    _FILTER.secrets.add(secret)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
