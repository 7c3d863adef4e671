"""What a record of an Anthropic API that cannot land is, and how its JSON values are named."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

# Strict RFC 3339 (what the APIs document). Python accepts more (basic format, no offset),
# and DuckDB's cast in staging accepts less, so a stricter check keeps builds working.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")

_KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
_KINDS |= {list: "a list", dict: "an object", type(None): "null"}


def describe(value: object) -> str:
    """What kind of JSON value `value` is, for a reason or an error message."""
    return _KINDS.get(type(value), type(value).__name__)


class MalformedRecord(ValueError):
    """A record that cannot land as it is; the message is the reason, naming the field."""


def parse_timestamp(value: str, name: str) -> datetime:
    """An RFC 3339 timestamp with an offset, in UTC.

    Raises:
        MalformedRecord: not RFC 3339, no offset, or not a real date and time.
    """
    if not _RFC3339.fullmatch(value):
        raise MalformedRecord(f"{name} {value[:40]!r} is not an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedRecord(f"{name} {value[:40]!r} is not a real time: {error}") from None
    return parsed.astimezone(UTC)


def json_text(value: object, name: str, *, sort_keys: bool = False) -> str:
    """`value` as JSON text that any JSON reader accepts (finite numbers, valid Unicode)."""
    try:
        text = json.dumps(value, sort_keys=sort_keys, allow_nan=False)
    except ValueError:
        raise MalformedRecord(f"{name} holds a non-finite number (NaN or Infinity)") from None
    except RecursionError:
        raise MalformedRecord(f"{name} is nested too deeply") from None
    if "\\ud" in text:  # escaped surrogates: fine in pairs (emoji), not alone
        valid_unicode(json.dumps(value, ensure_ascii=False), name)
    return text


def valid_unicode(value: str, name: str) -> str:
    """`value` if it encodes as UTF-8 (no lone surrogate), else a MalformedRecord."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRecord(f"{name} is not valid Unicode (a lone surrogate)") from None
    return value
