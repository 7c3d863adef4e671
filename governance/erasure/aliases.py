"""Finding every alias of one person: the identifiers an erasure must remove.

An identifier (an e-mail, a Compliance account id, an account uuid, a `user_key`) is
resolved first by the warehouse's own identity resolution: every fingerprint the build
database's `int_identity__fingerprints` resolved to the same `user_key` (account ids,
account uuids, e-mails, `enduser.id`s, devices). The landed data is then searched for what
the build has not seen yet (records landed since the last build, or no build at all): the
Compliance directory pairs ids with e-mails, OTel records pair e-mails, account ids and
uuids. Both are repeated until nothing new turns up. A device `user.id` counts as the
person's only when every landed record of that device that names someone names them (the
warehouse's rule for a device seen with one account).

Landed files are read beside their dataset's schema file (as dbt reads them), so every
column exists; a missing column, or a search that does not settle, raises instead of
finding fewer aliases.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.landing_schemas import SCHEMA_DIRECTORY
from ingestion.paths import DataLayout
from ingestion.sql_text import quote_identifier, quote_literal

LOGGER = logging.getLogger(__name__)

# Identifiers shorter than this are not searched inside free text (too many false hits).
MIN_MENTION_LENGTH = 6

OTEL_DATASETS = ("otel__events", "otel__metrics")
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

# Rounds of the alias search; each one adds what the previous aliases pair with.
MAX_ROUNDS = 10


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


class PersonNotFoundError(LookupError):
    """Nothing landed or built names the given identifier."""


class AliasSearchError(RuntimeError):
    """The alias search could not be completed: erasing now could leave the person behind."""


def in_list(values: set[str] | list[str]) -> str:
    """SQL: a parenthesised list of quoted values, for `in`."""
    return "(" + ", ".join(quote_literal(value) for value in sorted(values)) + ")"


def glob_sql(files: list[Path]) -> str:
    """SQL: a list of file names for `read_parquet`."""
    return "[" + ", ".join(quote_literal(str(path)) for path in files) + "]"


def _read_landed(
    connection, datasets: tuple[str, ...], files: list[Path], columns: list[str], where: str
) -> list[tuple]:
    """Distinct `columns` of the landed rows of `files` matching `where`.

    The files are read with the schema files of `datasets` (as dbt's sources read them), so
    a column an older landing lacks is null, and a column no landing has is an error.

    Raises:
        AliasSearchError: a column the search needs is in none of the datasets' schemas.
    """
    if not files:
        return []
    schemas = [SCHEMA_DIRECTORY / f"{dataset}.parquet" for dataset in datasets]
    relation = (
        f"read_parquet({glob_sql([*schemas, *files])},"
        " union_by_name = true, hive_partitioning = false)"
    )
    present = set(connection.sql(f"select * from {relation} limit 0").columns)
    missing = sorted(set(columns) - present)
    if missing:
        raise AliasSearchError(
            f"the landed {'/'.join(datasets)} data has no column {', '.join(missing)}:"
            " the alias search cannot tell who the rows belong to"
        )
    selected = ", ".join(quote_identifier(column) for column in columns)
    return connection.execute(
        f"select distinct {selected} from {relation} where {where}"
    ).fetchall()


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
                f"select distinct user_key from {table} where user_key in {in_list(known)}"
                f" or person_id in {in_list(known)}"
                f" or user_account_id in {in_list(known)}"
                f" or user_account_uuid in {in_list(known)}"
                f" or lower(user_email) in {in_list(lowered)}"
                f" or lower(enduser_id) in {in_list(lowered)}"
            ).fetchall()
        }
        if not keys:
            return
        identity.user_keys |= keys
        rows = connection.execute(
            "select person_id, user_account_id, user_account_uuid, lower(user_email),"
            f" enduser_id from {table} where user_key in {in_list(keys)}"
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


def owner_predicate(
    columns: dict[str, str], identity: Identity, present: set[str], json_columns=()
) -> str:
    """SQL: the row belongs to the person (one of its owner columns holds their id)."""
    terms = []
    for column, kind in columns.items():
        values: set[str] = getattr(identity, kind)
        if column not in present or not values:
            continue
        if kind == "emails":
            terms.append(f"lower({quote_identifier(column)}) in {in_list(values)}")
        else:
            terms.append(f"{quote_identifier(column)} in {in_list(values)}")
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
        rows = _read_landed(
            connection,
            OTEL_DATASETS,
            otel,
            otel_columns,
            owner_predicate(
                {k: v for k, v in OTEL_OWNER_COLUMNS.items() if v != "devices"},
                seed,
                set(otel_columns),
            ),
        )
        candidate_devices = set()
        for email, account_id, uuid, device in rows:
            _add(identity.emails, email.lower() if email else None)
            _add(identity.account_ids, account_id)
            _add(identity.account_uuids, uuid)
            _add(candidate_devices, device)
        for entity, id_column in (("users", "id"), ("members", "user_id")):
            names = ["full_name"] if entity == "users" else []
            rows = _read_landed(
                connection,
                (f"compliance_api__{entity}",),
                list(layout.compliance(entity).glob("*/*.parquet")),
                [id_column, "email", *names],
                f"{id_column} in {in_list(seed.account_ids)}"
                f" or lower(email) in {in_list(seed.emails)}",
            )
            for account_id, email, *full_name in rows:
                _add(identity.account_ids, account_id)
                _add(identity.emails, email.lower() if email else None)
                if full_name:
                    _add(identity.full_names, full_name[0])
        for entity in ("sessions", "chats", "projects"):
            rows = _read_landed(
                connection,
                (f"compliance_api__{entity}",),
                list(layout.compliance(entity).glob("*/*.parquet")),
                ["user_id", "user_email"],
                f"user_id in {in_list(seed.account_ids)}"
                f" or lower(user_email) in {in_list(seed.emails)}",
            )
            for user_id, email in rows:
                _add(identity.account_ids, user_id)
                _add(identity.emails, email.lower() if email else None)
        # A device is the person's only when no landed record of it names anyone else.
        if candidate_devices and otel:
            others = _read_landed(
                connection,
                OTEL_DATASETS,
                otel,
                ["user_id"],
                f"user_id in {in_list(candidate_devices)} and"
                f" ((user_email is not null and lower(user_email) not in"
                f" {in_list(identity.emails or {''})})"
                f" or (user_account_id is not null and user_account_id not in"
                f" {in_list(identity.account_ids or {''})})"
                f" or (user_account_uuid is not null and user_account_uuid not in"
                f" {in_list(identity.account_uuids or {''})}))",
            )
            identity.devices |= candidate_devices - {device for (device,) in others}


def resolve_identity(layout: DataLayout, given: str) -> Identity:
    """Every identifier of the person `given` names (an e-mail, account id, uuid, user_key…).

    Raises:
        PersonNotFoundError: neither the build database nor the landed data knows it.
        AliasSearchError: a column the search needs is missing, or it does not settle.
    """
    given = given.strip()
    identity = Identity()
    for _ in range(MAX_ROUNDS):  # until no new alias turns up
        before = identity.counts() | {"names": len(identity.full_names)}
        _from_build_database(layout, identity, given)
        _from_landed_data(layout, identity, given)
        if identity.counts() | {"names": len(identity.full_names)} == before:
            break
    else:
        raise AliasSearchError(
            f"the alias search found new aliases in each of {MAX_ROUNDS} rounds; nothing was"
            " erased (look for records chaining many identifiers together)"
        )
    if not identity:
        raise PersonNotFoundError("no landed or built data names this identifier")
    return identity
