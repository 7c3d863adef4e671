"""The manifest store: which bytes of which input file have been landed (SQLite, WAL)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The store's layout, one migration per version: entry N upgrades a store from version N to
# N + 1 (`pragma user_version`). A release only ever appends, so any release opens a store
# written by an older one, upgrades it in one transaction, and refuses one written by a
# newer release instead of misreading it.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first versioned layout. Stores written before versioning already hold
    # these tables (with user_version 0), so they are created only when missing.
    (
        """
        create table if not exists otel_files (
            fingerprint text primary key,
            last_path text not null,
            landed_offset integer not null,
            records integer not null default 0,
            quarantined_lines integer not null default 0,
            first_landed_at text not null,
            updated_at text not null
        )
        """,
        """
        create table if not exists source_state (
            name text primary key,
            value text not null,
            updated_at text not null
        )
        """,
    ),
    # 1 -> 2: a file is known by its first whole message together with its device and
    # inode, and by a hash of the bytes just before its landed offset (ingestion/otel/
    # identity.py). Rows written before carry none of these and are matched once by the
    # old first-line fingerprint, then filled in.
    (
        "alter table otel_files add column head_hash text",
        "alter table otel_files add column device integer",
        "alter table otel_files add column inode integer",
        "alter table otel_files add column tail_hash text",
        "alter table otel_files add column copy_of text",
        "create index otel_files_by_head on otel_files (head_hash)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_LANDED_FILE_COLUMNS = (
    "fingerprint, last_path, landed_offset, head_hash, device, inode, tail_hash, copy_of"
)


@dataclass(frozen=True)
class LandedFile:
    """What the manifest knows of one input file.

    Attributes:
        fingerprint: the file's key, in landed rows' `source_file_fingerprint` and part names.
        last_path: where the file was when last landed.
        landed_offset: bytes of the file landed (or, for a copy, skipped).
        head_hash: hash of the file's first whole message; None for a row written before
            release 2 of the store, known only by its first-line `fingerprint`.
        device: the file's device when last seen (None before release 2).
        inode: the file's inode when last seen (None before release 2).
        tail_hash: hash of the bytes just before `landed_offset` (None before release 2).
        copy_of: for a copy of a landed file, that file's fingerprint; its bytes are never
            landed.
    """

    fingerprint: str
    last_path: str
    landed_offset: int
    head_hash: str | None
    device: int | None
    inode: int | None
    tail_hash: str | None
    copy_of: str | None = None


class NewerManifestError(RuntimeError):
    """The manifest store was written by a newer release than this one."""


def migrate(connection: sqlite3.Connection) -> int:
    """Upgrade the store to `SCHEMA_VERSION` in one transaction.

    Returns:
        The version the store had before.

    Raises:
        NewerManifestError: the store's version is newer than this release knows.
    """
    connection.execute("begin immediate")  # one migrating process at a time
    try:
        (version,) = connection.execute("pragma user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise NewerManifestError(
                f"the manifest store is at schema version {version}, written by a newer"
                f" cowork-analytics; this release reads up to version {SCHEMA_VERSION}."
                " Upgrade cowork-analytics (never downgrade over landed data)."
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                connection.execute(statement)
        connection.execute(f"pragma user_version = {SCHEMA_VERSION}")
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return version


class Manifest:
    """Offsets landed per input file, keyed by content fingerprint (so renames are harmless)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("pragma journal_mode=wal")
        self._connection.execute("pragma synchronous=full")
        migrate(self._connection)

    def files_like(self, head_hash: str, legacy_fingerprint: str | None) -> list[LandedFile]:
        """Files landed with this first message (by its hash).

        Also rows from before release 2 of the store whose first-line fingerprint is
        `legacy_fingerprint`.
        """
        rows = self._connection.execute(
            f"select {_LANDED_FILE_COLUMNS} from otel_files"
            " where head_hash = ? or (head_hash is null and fingerprint = ?)"
            " order by first_landed_at, fingerprint",
            (head_hash, legacy_fingerprint),
        ).fetchall()
        return [LandedFile(*row) for row in rows]

    def file(self, fingerprint: str) -> LandedFile | None:
        """The file with this fingerprint, or None."""
        row = self._connection.execute(
            f"select {_LANDED_FILE_COLUMNS} from otel_files where fingerprint = ?", (fingerprint,)
        ).fetchone()
        return LandedFile(*row) if row else None

    def advance(self, file: LandedFile, records: int, quarantined: int) -> None:
        """Record that `file` is landed up to its `landed_offset`, as it was seen then.

        Call only once the data is durable.
        """
        now = datetime.now(UTC).isoformat()
        self._connection.execute(
            """
            insert into otel_files (
                fingerprint, last_path, landed_offset, records, quarantined_lines,
                first_landed_at, updated_at, head_hash, device, inode, tail_hash, copy_of
            ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            on conflict (fingerprint) do update set
                last_path = excluded.last_path,
                landed_offset = excluded.landed_offset,
                records = otel_files.records + excluded.records,
                quarantined_lines = otel_files.quarantined_lines + excluded.quarantined_lines,
                updated_at = excluded.updated_at,
                head_hash = excluded.head_hash,
                device = excluded.device,
                inode = excluded.inode,
                tail_hash = excluded.tail_hash,
                copy_of = excluded.copy_of
            """,
            (
                file.fingerprint,
                file.last_path,
                file.landed_offset,
                records,
                quarantined,
                now,
                now,
                file.head_hash,
                file.device,
                file.inode,
                file.tail_hash,
                file.copy_of,
            ),
        )

    def get_state(self, name: str) -> dict | None:
        """A source's committed state (cursors, watermarks), or None before its first run."""
        row = self._connection.execute(
            "select value from source_state where name = ?", (name,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, name: str, value: dict) -> None:
        """Commit a source's state; call only once the data it describes is durable."""
        self._connection.execute(
            "insert into source_state values (?, ?, ?) on conflict (name) do update set"
            " value = excluded.value, updated_at = excluded.updated_at",
            (name, json.dumps(value, sort_keys=True), datetime.now(UTC).isoformat()),
        )

    def close(self) -> None:
        """Close the store."""
        self._connection.close()
