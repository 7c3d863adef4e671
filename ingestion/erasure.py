"""Erase one person from the landed data, the build database and what is served.

`forget_person(layout, "ID_OR_EMAIL")` first resolves the identifier to every alias the
person was seen under: the identity tables of the build database (all fingerprints of the
resolved `user_key`: account ids, account uuids, e-mails, `enduser.id`s, devices) and the
landed data (the Compliance directory pairs ids with e-mails; OTel records pair e-mails,
account ids and uuids), repeated until nothing new turns up. A device `user.id` counts as
the person's only when every landed record of that device that names someone names them.

Then, holding the landing lock and the warehouse lock (no landing and no build meanwhile):

1. every landed Parquet file holding a row of the person is rewritten without it, and any
   other row mentioning one of the person's identifiers has the mention replaced by
   `[erased]`; each file is written under a temporary name, fsynced and renamed over the old
   one, one file at a time, so a crash leaves every file old or new and a rerun finishes
   the job. Content rows (owner-only text) go by the `event_id` of the person's events,
   and are purged before the events, so a rerun still knows which ones;
2. quarantined lines mentioning the person are dropped;
3. the build database loses every row naming the person (any text column equal to one of
   their identifiers, or containing their e-mail), the `dbt_test__audit` failures and any
   damaged copy set aside;
4. the warehouse is rebuilt (a full refresh when the landed data still covers every day the
   build holds, else incrementally, so aggregates of days past raw retention are kept),
   copied into a fresh file (freed blocks of the old one may still hold deleted bytes),
   published whole, and the Parquet export is rewritten from scratch.

An audit line goes to `state/erasure-audit.jsonl`: a keyed hash of the request, counts and
timings, never the identifier itself.
"""

from __future__ import annotations

import getpass
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.crash import crash_point
from ingestion.locks import exclusive_lock
from ingestion.otel.privacy import PrivacyMode, pii_pepper
from ingestion.parquet import fsync_directory, write_parquet_atomically
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier, quote_literal

LOGGER = logging.getLogger(__name__)

REDACTED = "[erased]"
AUDIT_FILE = "erasure-audit.jsonl"
SALT_FILE = ".erasure-salt"
PENDING_FILE = "erasure-pending.json"  # the request hash of an unfinished erasure
# Identifiers shorter than this are not searched inside free text (too many false hits).
MIN_MENTION_LENGTH = 6

# Landed OTel datasets: column -> the kind of identifier it holds.
OTEL_OWNER_COLUMNS = {
    "user_email": "emails",
    "user_account_id": "account_ids",
    "user_account_uuid": "account_uuids",
    "user_id": "devices",  # OTel `user.id` is a device id
}
# Landed Compliance datasets (`user_id` there is the account id).
COMPLIANCE_OWNER_COLUMNS = {
    "user_id": "account_ids",
    "actor_user_id": "account_ids",
    "email": "emails",
    "user_email": "emails",
    "actor_email_address": "emails",
    "actor_unauthenticated_email_address": "emails",
}
JSON_COLUMNS = ("resource_json", "attributes_json", "actor_json")


@dataclass
class Identity:
    """Every identifier of one person (all lower-cased except ids, which are exact)."""

    emails: set[str] = field(default_factory=set)
    account_ids: set[str] = field(default_factory=set)
    account_uuids: set[str] = field(default_factory=set)
    enduser_ids: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    user_keys: set[str] = field(default_factory=set)
    person_ids: set[str] = field(default_factory=set)
    full_names: set[str] = field(default_factory=set)

    def strong(self) -> set[str]:
        """Identifiers that name exactly this person wherever they appear."""
        return self.emails | self.account_ids | self.account_uuids | self.enduser_ids

    def everything(self) -> set[str]:
        """Every identifier, including the build's user_keys and the person's devices."""
        return self.strong() | self.devices | self.user_keys | self.person_ids

    def mentions(self) -> list[str]:
        """What is searched (case-insensitively) in free text; longest first."""
        values = {value.lower() for value in self.strong() | self.devices | self.full_names}
        return sorted((v for v in values if len(v) >= MIN_MENTION_LENGTH), key=len, reverse=True)

    def counts(self) -> dict[str, int]:
        """How many identifiers of each kind (safe to log)."""
        return {
            "emails": len(self.emails),
            "account_ids": len(self.account_ids),
            "account_uuids": len(self.account_uuids),
            "enduser_ids": len(self.enduser_ids),
            "devices": len(self.devices),
            "user_keys": len(self.user_keys),
        }

    def __bool__(self) -> bool:
        return bool(self.everything())


@dataclass
class ErasureSummary:
    """What one `forget` removed (counts only: safe to print and to log)."""

    request_hash: str
    identifiers: dict[str, int] = field(default_factory=dict)
    rows_removed: Counter = field(default_factory=Counter)  # area -> rows
    rows_redacted: Counter = field(default_factory=Counter)  # area -> rows
    files_rewritten: int = 0
    files_deleted: int = 0
    quarantine_lines_removed: int = 0
    build_rows_removed: int = 0
    full_refresh: bool = False
    build_success: bool | None = None
    build_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        return {
            "request_hash": self.request_hash,
            "identifiers": self.identifiers,
            "rows_removed": dict(self.rows_removed),
            "rows_redacted": dict(self.rows_redacted),
            "files_rewritten": self.files_rewritten,
            "files_deleted": self.files_deleted,
            "quarantine_lines_removed": self.quarantine_lines_removed,
            "build_rows_removed": self.build_rows_removed,
            "full_refresh": self.full_refresh,
            "build_success": self.build_success,
            "seconds": round(self.seconds, 3),
        }


class PersonNotFoundError(LookupError):
    """Nothing landed or built names the given identifier."""


def _in_list(values: set[str] | list[str]) -> str:
    return "(" + ", ".join(quote_literal(value) for value in sorted(values)) + ")"


# ---------------------------------------------------------------- the audit's keyed hash


def _hash_key(layout: DataLayout) -> bytes:
    """COWORK_PII_PEPPER when set, else a random per-install salt kept owner-only in state/."""
    pepper = os.environ.get("COWORK_PII_PEPPER")
    if pepper:
        return pepper.encode()
    path = layout.root / "state" / SALT_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def request_hash(layout: DataLayout, identifier: str) -> str:
    """A keyed hash of the request: the same person hashes alike, but cannot be read back."""
    return hmac.new(_hash_key(layout), identifier.strip().lower().encode(), "sha256").hexdigest()


def _append_audit(layout: DataLayout, record: dict[str, object]) -> Path:
    path = layout.root / "state" / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------- files of each area


def _landed_files(layout: DataLayout) -> dict[str, list[Path]]:
    """Area name -> the landed Parquet files of that area (content first: see the module doc)."""
    areas: dict[str, list[Path]] = {
        "otel_events": sorted(layout.otel_events.glob("*/*.parquet")),
        "otel_metrics": sorted(layout.otel_metrics.glob("*/*.parquet")),
        "otel_quarantine": sorted(layout.otel_quarantine.glob("*.parquet")),
    }
    compliance = layout.root / "landing" / "compliance"
    for entity in sorted(path.name for path in compliance.glob("*") if path.is_dir()):
        areas[f"compliance_{entity}"] = sorted(layout.compliance(entity).glob("*/*.parquet"))
    return areas


def _glob_sql(files: list[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(path)) for path in files) + "]"


def _read_any(connection, files: list[Path], columns: list[str], where: str) -> list[tuple]:
    """Distinct `columns` of the rows of `files` matching `where` (missing columns are null)."""
    if not files:
        return []
    present = set(
        connection.sql(
            f"select * from read_parquet({_glob_sql(files)}, union_by_name = true) limit 0"
        ).columns
    )
    selected = ", ".join(
        quote_identifier(column) if column in present else f"null as {quote_identifier(column)}"
        for column in columns
    )
    try:
        return connection.execute(
            f"select distinct {selected} from read_parquet({_glob_sql(files)},"
            f" union_by_name = true, hive_partitioning = false) where {where}"
        ).fetchall()
    except duckdb.BinderException:
        return []  # a column the predicate needs is not in these files


# -------------------------------------------------------------------- identity resolution


def _identity_table(connection) -> str | None:
    row = connection.execute(
        "select schema_name from duckdb_tables() where table_name = 'int_identity__fingerprints'"
    ).fetchall()
    row = row[0] if row else None
    return f"{quote_identifier(row[0])}.int_identity__fingerprints" if row else None


def _from_build_database(layout: DataLayout, identity: Identity, given: str) -> None:
    """Add every fingerprint of the user_key(s) the build database resolved `given` to."""
    if not layout.build_database.exists():
        return
    try:
        connection = duckdb.connect(str(layout.build_database), read_only=True)
    except duckdb.Error as error:
        LOGGER.warning("build database unreadable, resolving from landed data only: %s", error)
        return
    with connection:
        table = _identity_table(connection)
        if table is None:
            return
        known = {given, *identity.everything()}
        lowered = {value.lower() for value in known}
        keys = {
            key
            for (key,) in connection.execute(
                f"select distinct user_key from {table} where user_key in {_in_list(known)}"
                f" or person_id in {_in_list(known)}"
                f" or user_account_id in {_in_list(known)}"
                f" or user_account_uuid in {_in_list(known)}"
                f" or lower(user_email) in {_in_list(lowered)}"
                f" or lower(enduser_id) in {_in_list(lowered)}"
            ).fetchall()
        }
        if not keys:
            return
        identity.user_keys |= keys
        rows = connection.execute(
            "select person_id, user_account_id, user_account_uuid, lower(user_email),"
            f" enduser_id from {table} where user_key in {_in_list(keys)}"
        ).fetchall()
        for person_id, account_id, uuid, email, enduser in rows:
            identity.person_ids.add(person_id)
            _add(identity.account_ids, account_id)
            _add(identity.account_uuids, uuid)
            _add(identity.emails, email)
            if enduser:
                (identity.emails if "@" in enduser else identity.enduser_ids).add(
                    enduser.lower() if "@" in enduser else enduser
                )


def _add(values: set[str], value: str | None) -> None:
    if value is not None and value.strip():
        values.add(value.strip())


def _owner_predicate(
    columns: dict[str, str], identity: Identity, present: set[str], json_columns=()
) -> str:
    """SQL: the row belongs to the person (one of its owner columns holds their id)."""
    terms = []
    for column, kind in columns.items():
        values: set[str] = getattr(identity, kind)
        if column not in present or not values:
            continue
        if kind == "emails":
            terms.append(f"lower({quote_identifier(column)}) in {_in_list(values)}")
        else:
            terms.append(f"{quote_identifier(column)} in {_in_list(values)}")
    strong = sorted(value.lower() for value in identity.strong())
    for column in json_columns:
        if column in present:
            for value in strong:
                # A JSON string value exactly equal to one of the identifiers.
                terms.append(
                    f"contains(lower({quote_identifier(column)}),"
                    f" {quote_literal(json.dumps(value))})"
                )
    # Null columns make a term null: the row is the person's only when a term is true.
    return f"coalesce(({' or '.join(terms)}), false)" if terms else "false"


def _from_landed_data(layout: DataLayout, identity: Identity, given: str) -> None:
    """Add the aliases landed rows pair with what is known so far."""
    seed = Identity(
        emails={given.lower()} | identity.emails,
        account_ids={given} | identity.account_ids,
        account_uuids={given} | identity.account_uuids,
        enduser_ids=identity.enduser_ids | ({given} if "@" not in given else set()),
    )
    connection = duckdb.connect()
    with connection:
        otel = [*layout.otel_events.glob("*/*.parquet"), *layout.otel_metrics.glob("*/*.parquet")]
        otel_columns = ["user_email", "user_account_id", "user_account_uuid", "user_id"]
        present = set(otel_columns)
        rows = _read_any(
            connection,
            otel,
            otel_columns,
            _owner_predicate(
                {k: v for k, v in OTEL_OWNER_COLUMNS.items() if v != "devices"},
                seed,
                present,
                ("resource_json", "attributes_json"),
            ),
        )
        candidate_devices = set()
        for email, account_id, uuid, device in rows:
            _add(identity.emails, email.lower() if email else None)
            _add(identity.account_ids, account_id)
            _add(identity.account_uuids, uuid)
            _add(candidate_devices, device)
        directory_files = [
            *layout.compliance("users").glob("*/*.parquet"),
            *layout.compliance("members").glob("*/*.parquet"),
        ]
        if directory_files:
            rows = _read_any(
                connection,
                directory_files,
                ["id", "user_id", "email", "full_name"],
                f"coalesce(id, user_id) in {_in_list(seed.account_ids)}"
                f" or lower(email) in {_in_list(seed.emails)}",
            )
            for account_id, user_id, email, full_name in rows:
                _add(identity.account_ids, account_id or user_id)
                _add(identity.emails, email.lower() if email else None)
                _add(identity.full_names, full_name)
        for entity in ("sessions", "chats", "projects"):
            files = list(layout.compliance(entity).glob("*/*.parquet"))
            rows = _read_any(
                connection,
                files,
                ["user_id", "user_email"],
                f"user_id in {_in_list(seed.account_ids)}"
                f" or lower(user_email) in {_in_list(seed.emails)}",
            )
            for user_id, email in rows:
                _add(identity.account_ids, user_id)
                _add(identity.emails, email.lower() if email else None)
        # A device is the person's only when no landed record of it names anyone else.
        if candidate_devices and otel:
            others = _read_any(
                connection,
                otel,
                ["user_id"],
                f"user_id in {_in_list(candidate_devices)} and"
                f" ((user_email is not null and lower(user_email) not in"
                f" {_in_list(identity.emails or {''})})"
                f" or (user_account_id is not null and user_account_id not in"
                f" {_in_list(identity.account_ids or {''})})"
                f" or (user_account_uuid is not null and user_account_uuid not in"
                f" {_in_list(identity.account_uuids or {''})}))",
            )
            identity.devices |= candidate_devices - {device for (device,) in others}


def resolve_identity(layout: DataLayout, given: str) -> Identity:
    """Every identifier of the person `given` names (an e-mail, account id, uuid, user_key…).

    Raises:
        PersonNotFoundError: neither the build database nor the landed data knows it.
    """
    given = given.strip()
    identity = Identity()
    for _ in range(5):  # until no new alias turns up
        before = identity.counts() | {"names": len(identity.full_names)}
        _from_build_database(layout, identity, given)
        _from_landed_data(layout, identity, given)
        if identity.counts() | {"names": len(identity.full_names)} == before:
            break
    if not identity:
        raise PersonNotFoundError("no landed or built data names this identifier")
    return identity


# ------------------------------------------------------------------------ rewriting files


def _string_columns(schema: pa.Schema) -> list[str]:
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def _mention_predicate(columns: list[str], mentions: list[str]) -> str:
    terms = [
        f"contains(lower({quote_identifier(column)}), {quote_literal(value)})"
        for column in columns
        for value in mentions
    ]
    return f"coalesce(({' or '.join(terms)}), false)" if terms else "false"


def _redacted(column: str, mentions: list[str]) -> str:
    expression = quote_identifier(column)
    for value in mentions:
        pattern = "(?i)" + re.escape(value)
        expression = f"regexp_replace({expression}, {quote_literal(pattern)}, '{REDACTED}', 'g')"
    return f"{expression} as {quote_identifier(column)}"


def _rewrite_file(
    connection, path: Path, owner: str, mentions: list[str]
) -> tuple[int, int, set[str]]:
    """Rewrite `path` without the person's rows and with mentions redacted.

    Returns:
        (rows removed, rows redacted, event_ids of the removed rows).
    """
    table = pq.ParquetFile(path).read()
    columns = _string_columns(table.schema)
    connection.register("landed", table)
    try:
        mention = _mention_predicate(columns, mentions)
        removed, redacted = connection.execute(
            f"select count(*) filter (where {owner}),"
            f" count(*) filter (where not ({owner}) and ({mention})) from landed"
        ).fetchall()[0]
        if not removed and not redacted:
            return 0, 0, set()
        event_ids: set[str] = set()
        if removed and "event_id" in table.schema.names:
            event_ids = {
                event_id
                for (event_id,) in connection.execute(
                    f"select event_id from landed where {owner}"
                ).fetchall()
                if event_id
            }
        replaced = ", ".join(_redacted(column, mentions) for column in columns)
        kept = connection.sql(
            f"select * {f'replace ({replaced})' if replaced and mentions else ''}"
            f" from landed where not ({owner})"
        ).to_arrow_table()
    finally:
        connection.unregister("landed")
    mode = path.stat().st_mode & 0o777
    if kept.num_rows == 0:
        path.unlink()
        fsync_directory(path.parent)
    else:
        write_parquet_atomically(kept.cast(table.schema), path, mode=mode)
    crash_point("erasure_after_file")
    return removed, redacted, event_ids


def _area_owner(area: str, identity: Identity, schema: pa.Schema, event_ids: set[str]) -> str:
    present = set(schema.names)
    if area == "otel_content":
        return f"event_id in {_in_list(event_ids)}" if event_ids else "false"
    if area.startswith("otel_"):
        return _owner_predicate(OTEL_OWNER_COLUMNS, identity, present, JSON_COLUMNS)
    columns = dict(COMPLIANCE_OWNER_COLUMNS)
    if area == "compliance_users":
        columns["id"] = "account_ids"
    return _owner_predicate(columns, identity, present, JSON_COLUMNS)


def _erased_event_ids(connection, files: list[Path], identity: Identity) -> set[str]:
    """The event ids of the person's landed events (to purge their content first)."""
    if not files:
        return set()
    present = set(pq.read_schema(files[0]).names)
    owner = _owner_predicate(OTEL_OWNER_COLUMNS, identity, present, JSON_COLUMNS)
    return {
        event_id
        for (event_id,) in connection.execute(
            f"select distinct event_id from read_parquet({_glob_sql(files)},"
            f" union_by_name = true, hive_partitioning = false) where {owner}"
        ).fetchall()
        if event_id
    }


def _erase_landed(layout: DataLayout, identity: Identity, summary: ErasureSummary) -> None:
    mentions = identity.mentions()
    areas = _landed_files(layout)
    with duckdb.connect() as connection:
        event_ids = _erased_event_ids(
            connection, areas["otel_events"] + areas["otel_quarantine"], identity
        )
        # Content first: while the events still exist, a rerun can find these ids again.
        ordered = [("otel_content", sorted(layout.otel_content.glob("*/*.parquet")))]
        ordered += list(areas.items())
        for area, files in ordered:
            for path in files:
                schema = pq.read_schema(path)
                owner = _area_owner(area, identity, schema, event_ids)
                removed, redacted, _ = _rewrite_file(connection, path, owner, mentions)
                if removed or redacted:
                    if path.exists():
                        summary.files_rewritten += 1
                    else:
                        summary.files_deleted += 1
                summary.rows_removed[area] += removed
                summary.rows_redacted[area] += redacted
    summary.rows_removed = Counter({k: v for k, v in summary.rows_removed.items() if v})
    summary.rows_redacted = Counter({k: v for k, v in summary.rows_redacted.items() if v})


def _erase_quarantined_lines(layout: DataLayout, identity: Identity, summary: ErasureSummary):
    """Drop quarantined lines and records that mention the person (a file at a time, atomically)."""
    needles = [value.lower() for value in identity.mentions()]
    if not needles:
        return
    # OTel lines, and Compliance API records quarantined per entity and page.
    quarantined = [*layout.otel_quarantine.glob("*.jsonl")]
    quarantined += layout.compliance("quarantine").glob("*/*.jsonl")
    for path in sorted(quarantined):
        lines = path.read_text(errors="replace").splitlines(keepends=True)
        kept = [line for line in lines if not any(n in line.lower() for n in needles)]
        if len(kept) == len(lines):
            continue
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with temporary.open("w") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o600)
        os.replace(temporary, path)
        fsync_directory(path.parent)
        summary.quarantine_lines_removed += len(lines) - len(kept)
        summary.files_rewritten += 1


# ------------------------------------------------------------------------ build database


def _erase_build_database(layout: DataLayout, identity: Identity, summary: ErasureSummary):
    """Delete every row of the build database naming the person; drop test failure rows."""
    shutil.rmtree(layout.build_database.parent / "damaged", ignore_errors=True)
    if not layout.build_database.exists():
        return
    exact = sorted({value.lower() for value in identity.everything()})
    emails = sorted(identity.emails)
    with duckdb.connect(str(layout.build_database)) as connection:
        for (schema,) in connection.execute(
            "select distinct schema_name from duckdb_schemas()"
            " where schema_name like '%dbt_test__audit'"
        ).fetchall():
            connection.execute(f"drop schema {quote_identifier(schema)} cascade")
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
            " and database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            columns = [
                name
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns() where schema_name = ?"
                    " and table_name = ? and data_type = 'VARCHAR'",
                    [schema, table],
                ).fetchall()
            ]
            if not columns or not exact:
                continue
            terms = [f"lower({quote_identifier(c)}) in {_in_list(exact)}" for c in columns]
            terms += [
                f"contains(lower({quote_identifier(c)}), {quote_literal(email)})"
                for c in columns
                for email in emails
            ]
            (deleted,) = connection.execute(
                f"delete from {quote_identifier(schema)}.{quote_identifier(table)}"
                f" where {' or '.join(terms)}"
            ).fetchall()[0]
            summary.build_rows_removed += deleted
        connection.execute("checkpoint")


def _landed_history_covers_build(layout: DataLayout) -> bool:
    """Whether the landed OTel partitions still reach back to the oldest day the build holds.

    When retention has dropped older partitions, a full refresh would lose the aggregates of
    those days, so the rebuild must stay incremental.
    """
    if not layout.build_database.exists():
        return True
    landed = [
        path.name.split("=", 1)[1]
        for area in (layout.otel_events, layout.otel_metrics)
        for path in area.glob("*=*")
        if path.is_dir() and any(path.glob("*.parquet"))
    ]
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        oldest_built = None
        for table, column in (
            ("stg_otel__events", "event_date"),
            ("stg_otel__metrics", "point_date"),
        ):
            row = connection.execute(
                "select schema_name from duckdb_tables() where table_name = ?", [table]
            ).fetchall()
            row = row[0] if row else None
            if row:
                (value,) = connection.execute(
                    f"select min({column}) from {quote_identifier(row[0])}.{table}"
                ).fetchall()[0]
                if value is not None and (oldest_built is None or value < oldest_built):
                    oldest_built = value
    if oldest_built is None:
        return True
    return bool(landed) and min(landed) <= oldest_built.isoformat()


def _compact_build_database(layout: DataLayout) -> None:
    """Copy the build database into a fresh file and rename it over the old one.

    Deleted rows and dropped tables leave their bytes in the file's free blocks; a copy
    holds only the live data, so the person's bytes are gone from the disk file too.
    """
    database = layout.build_database
    if not database.exists():
        return
    fresh = database.with_name(f".{database.name}.compact-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    try:
        with duckdb.connect() as connection:
            # Attached under its usual catalog name, so views naming it still bind.
            connection.execute(
                f"attach {quote_literal(str(database))} as {quote_identifier(database.stem)}"
            )
            connection.execute(f"attach {quote_literal(str(fresh))} as erasure_compacted")
            connection.execute(
                f"copy from database {quote_identifier(database.stem)} to erasure_compacted"
            )
            connection.execute("detach erasure_compacted")
            connection.execute(f"detach {quote_identifier(database.stem)}")
        with fresh.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(fresh, database)
        database.with_name(database.name + ".wal").unlink(missing_ok=True)
        fsync_directory(database.parent)
    finally:
        fresh.unlink(missing_ok=True)
        fresh.with_name(fresh.name + ".wal").unlink(missing_ok=True)


def _rebuild(layout: DataLayout, summary: ErasureSummary) -> None:
    """Rebuild, publish every table whole and rewrite the Parquet export from scratch."""
    from warehouse.build import build_warehouse
    from warehouse.publish import publish_build

    summary.full_refresh = _landed_history_covers_build(layout)
    # This erasure holds the warehouse lock already; it publishes every table whole below.
    result = build_warehouse(
        layout, full_refresh=summary.full_refresh, publish=False, lock_held=True
    )
    summary.build_success = result.success
    summary.build_failures = list(result.failures) + ([result.error] if result.error else [])
    if not result.success:
        return
    _compact_build_database(layout)
    publish_build(layout, layout.dbt_target / "manifest.json", whole=True, lock_held=True)


# -------------------------------------------------------------------------------- forget


def forget_person(layout: DataLayout, given: str, *, rebuild: bool = True) -> ErasureSummary:
    """Erase the person `given` names from every landed file, the build and the serving side.

    Rerunning finishes an interrupted erasure and is otherwise a no-op on the landed data.

    Raises:
        PersonNotFoundError: nothing names the identifier (and nothing was changed).
    """
    from warehouse.build_state import warehouse_lock

    # `strict` without a pepper would stop the publish after the erasure: stop before it.
    pii_pepper(PrivacyMode.parse(os.environ.get("COWORK_PRIVACY")))
    started = time.perf_counter()
    summary = ErasureSummary(request_hash=request_hash(layout, given))
    pending = layout.root / "state" / PENDING_FILE
    with (
        exclusive_lock(layout.manifest.with_name(".landing.lock")),
        warehouse_lock(layout),
    ):
        try:
            identity = resolve_identity(layout, given)
        except PersonNotFoundError:
            # An erasure interrupted after the build database was cleaned: only the rebuild
            # and publish remain (the marker holds the request's hash, no identifier).
            if not _pending(pending, summary.request_hash):
                raise
            identity = None
        _write_pending(pending, summary.request_hash)
        if identity is not None:
            summary.identifiers = identity.counts()
            _erase_landed(layout, identity, summary)
            _erase_quarantined_lines(layout, identity, summary)
            _erase_build_database(layout, identity, summary)
        crash_point("erasure_before_rebuild")
        if rebuild:
            _rebuild(layout, summary)
            if summary.build_success:
                pending.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    _append_audit(
        layout,
        {
            "at": datetime.now(UTC).isoformat(),
            "operator": os.environ.get("USER") or _login(),
            **summary.as_dict(),
        },
    )
    return summary


def _pending(path: Path, hashed: str) -> bool:
    return path.exists() and json.loads(path.read_text()).get("request_hash") == hashed


def _write_pending(path: Path, hashed: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"request_hash": hashed, "at": datetime.now(UTC).isoformat()}))
    temporary.chmod(0o600)
    os.replace(temporary, path)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
