"""Keyed pseudonyms for people in the serving database (privacy `strict`).

Under `strict`, every column a mart declares as an identifier (`meta: {pii: identifier}` in
its YAML: user keys, e-mails, account ids, names, IP addresses, and ids built from them) is
replaced on its way to the serving database by HMAC-SHA256(pepper, value). The same value
gets the same pseudonym in every run and every mart, so joins and counts still work; an
installation with another pepper gets other pseudonyms; and without the pepper nobody can
test a guessed e-mail against them (a plain hash such as md5 would allow exactly that).

The build database keeps the real values: it is the pipeline's working copy, not a file BI
tools are given. The pepper never enters SQL text, dbt's logs or the compiled models: the
pseudonyms are computed here, in Python, for the distinct values only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.sql_text import quote_identifier

PSEUDONYM_HEX_DIGITS = 32  # 128 bits: the width of the md5 user keys they replace
IDENTIFIER = "identifier"
# A text that looks like an e-mail address anywhere in a value.
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"


def pseudonym(pepper: bytes, value: str) -> str:
    """The pseudonym of one value: hex HMAC-SHA256 under the pepper, truncated to 128 bits."""
    digest = hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_DIGITS]


def pepper_fingerprint(pepper: bytes) -> str:
    """A short, non-secret label of the pepper, to tell whether it changed between runs."""
    return pseudonym(pepper, "cowork-analytics pepper fingerprint")[:8]


def identifier_columns_from_manifest(manifest: Path) -> dict[str, list[str]]:
    """`schema.table` -> the columns a model declares `pii: identifier`, from a dbt manifest."""
    if not manifest.exists():
        return {}
    identifiers: dict[str, list[str]] = {}
    for node in json.loads(manifest.read_text())["nodes"].values():
        if node.get("resource_type") != "model":
            continue
        columns = [
            name
            for name, column in node.get("columns", {}).items()
            if (column.get("meta") or column.get("config", {}).get("meta") or {}).get("pii")
            == IDENTIFIER
        ]
        if columns:
            identifiers[f"{node['schema']}.{node['alias'] or node['name']}"] = columns
    return identifiers


def create_pseudonym_table(
    connection: duckdb.DuckDBPyConnection,
    pepper: bytes,
    columns: dict[str, list[str]],
    database: str,
) -> int:
    """Create the temporary table `pseudonyms(value, pseudonym)` for every distinct value.

    Args:
        connection: where the table is created.
        pepper: the HMAC key.
        columns: `schema.table` -> identifier columns, read from `database`.
        database: the attached database holding the tables (the build database).

    Returns:
        How many distinct values were pseudonymised.
    """
    selects = [
        f"select cast({quote_identifier(column)} as varchar) as value"
        f" from {quote_identifier(database)}.{table_reference(table)}"
        for table, names in columns.items()
        for column in names
    ]
    if not selects:
        values: list[str] = []
    else:
        distinct = connection.execute(
            f"select distinct value from ({' union all '.join(selects)}) where value is not null"
        ).fetchall()
        values = [value for (value,) in distinct]
    mapping = pa.table(
        {
            "value": pa.array(values, pa.string()),
            "pseudonym": pa.array([pseudonym(pepper, value) for value in values], pa.string()),
        }
    )
    connection.register("pseudonyms_in_memory", mapping)
    connection.execute(
        "create or replace temporary table pseudonyms as select * from pseudonyms_in_memory"
    )
    connection.unregister("pseudonyms_in_memory")
    return len(values)


def table_reference(table: str) -> str:
    """`schema.table` quoted for SQL."""
    schema, name = table.split(".", 1)
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def pseudonymised_select(source: str, columns: list[str]) -> str:
    """`select` every column of `source` with `columns` replaced by their pseudonyms.

    Needs the `pseudonyms` table of `create_pseudonym_table`; NULL stays NULL.
    """
    if not columns:
        return f"select * from {source} as source"
    replaced = ", ".join(
        f"pseudonym_{index}.pseudonym as {quote_identifier(column)}"
        for index, column in enumerate(columns)
    )
    joins = " ".join(
        f"left join pseudonyms as pseudonym_{index}"
        f" on cast(source.{quote_identifier(column)} as varchar) = pseudonym_{index}.value"
        for index, column in enumerate(columns)
    )
    return f"select source.* replace ({replaced}) from {source} as source {joins}"


def columns_with_emails(
    connection: duckdb.DuckDBPyConnection, relation: str, text_columns: list[str]
) -> list[str]:
    """The text columns of `relation` where some value contains an e-mail address."""
    if not text_columns:
        return []
    tallies = ", ".join(
        f"count(*) filter (where regexp_matches({quote_identifier(column)}, ?))"
        for column in text_columns
    )
    counts = connection.execute(
        f"select {tallies} from {relation}", [EMAIL_PATTERN] * len(text_columns)
    ).fetchone()
    return [column for column, hits in zip(text_columns, counts, strict=True) if hits]
