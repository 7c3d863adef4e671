"""Names for kinds of JSON values, for quarantine reasons and error messages."""

from __future__ import annotations

_KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
_KINDS |= {list: "a list", dict: "an object", type(None): "null"}


def describe(value: object) -> str:
    """What kind of JSON value `value` is, for a reason or an error message."""
    return _KINDS.get(type(value), type(value).__name__)
