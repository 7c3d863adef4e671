"""Quoting for SQL that this project writes as text (DuckDB dialect).

Names and values that come from data (a person's e-mail, a column declared in YAML) are
quoted here, in one place, before they enter a statement.
"""

from __future__ import annotations


def quote_identifier(identifier: str) -> str:
    """An SQL identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """An SQL string literal in single quotes."""
    return "'" + value.replace("'", "''") + "'"
