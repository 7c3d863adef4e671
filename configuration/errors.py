"""Errors the person running a command can act on: the CLI prints their message, no traceback.

Plain Python (no Dagster, no CLI), so that every layer and the CLI share them. A message
names what to fix: the setting and its bad value, the file, the URL or the status.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure whose message alone tells the person what went wrong (exit status 1)."""

    exit_code = 1


class ConfigurationError(UserError, ValueError):
    """A setting (option or environment variable) that cannot work; the message names it.

    A `ValueError` too, so callers that caught the bad-value errors of before still do.
    """

    exit_code = 2
