"""Which alerts were sent: `state/alerts.sqlite` under the data directory.

A separate SQLite file (not the landing manifest), with its own `schema_version` table. One
row per alert key: when it was first tried, when it was delivered (null until it is), how
many attempts it took and the last error. A delivered key is never sent again; a key whose
delivery failed is tried again on the next run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCHEMA_VERSION = 1
_SCHEMA = """
create table if not exists schema_version (version integer not null);
create table if not exists alerts (
    key text primary key,
    kind text not null,
    title text not null,
    first_seen_at text not null,
    first_sent_at text,
    attempts integer not null default 0,
    last_attempt_at text,
    last_error text,
    payload text
);
"""


def store_path(data_dir: Path) -> Path:
    """The alert store of a data directory: `state/alerts.sqlite`."""
    return data_dir / "state" / "alerts.sqlite"


@dataclass(frozen=True)
class StoredAlert:
    """One row of the store."""

    key: str
    kind: str
    first_sent_at: str | None
    attempts: int
    last_error: str | None


class AlertStore:
    """The dedup store; every method is one short transaction (runs may overlap)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(_SCHEMA)
            (count,) = connection.execute("select count(*) from schema_version").fetchone()
            if count == 0:
                connection.execute("insert into schema_version values (?)", [SCHEMA_VERSION])
            (version,) = connection.execute("select max(version) from schema_version").fetchone()
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path} has alert-store schema {version}, newer than this code's "
                    f"{SCHEMA_VERSION}: upgrade cowork-analytics"
                )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def was_sent(self, key: str) -> bool:
        """Whether the alert was delivered before."""
        with self._connect() as connection:
            row = connection.execute(
                "select first_sent_at from alerts where key = ?", [key]
            ).fetchone()
        return row is not None and row[0] is not None

    def record(
        self,
        key: str,
        kind: str,
        title: str,
        delivered: bool,
        attempts: int,
        error: str | None,
        payload: dict | None = None,
    ) -> None:
        """Record one delivery try (delivered or failed) of an alert.

        The payload of an undelivered alert is kept, so that the next pass can retry it even
        when nothing detects it again (a run's failure is seen once); it is dropped once
        delivered.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        kept = None if delivered or payload is None else json.dumps(payload)
        with self._connect() as connection:
            connection.execute(
                """
                insert into alerts (key, kind, title, first_seen_at, first_sent_at, attempts,
                                    last_attempt_at, last_error, payload)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?)
                on conflict (key) do update set
                    first_sent_at = coalesce(alerts.first_sent_at, excluded.first_sent_at),
                    attempts = alerts.attempts + excluded.attempts,
                    last_attempt_at = excluded.last_attempt_at,
                    last_error = excluded.last_error,
                    payload = excluded.payload
                """,
                [key, kind, title, now, now if delivered else None, attempts, now, error, kept],
            )

    def pending(self, max_age_days: int = 7) -> list[tuple[str, str, str, dict]]:
        """Undelivered alerts first seen in the last `max_age_days`: (key, kind, title, payload)."""
        cutoff = (datetime.now(UTC) - timedelta(days=max_age_days)).isoformat(timespec="seconds")
        with self._connect() as connection:
            rows = connection.execute(
                "select key, kind, title, payload from alerts where first_sent_at is null"
                " and payload is not null and first_seen_at >= ? order by first_seen_at, key",
                [cutoff],
            ).fetchall()
        return [(key, kind, title, json.loads(payload)) for key, kind, title, payload in rows]

    def get(self, key: str) -> StoredAlert | None:
        """The stored row of a key, if any."""
        with self._connect() as connection:
            row = connection.execute(
                "select key, kind, first_sent_at, attempts, last_error from alerts where key = ?",
                [key],
            ).fetchone()
        return StoredAlert(*row) if row else None

    def all(self) -> list[StoredAlert]:
        """Every stored alert, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                "select key, kind, first_sent_at, attempts, last_error from alerts"
                " order by first_seen_at, key"
            ).fetchall()
        return [StoredAlert(*row) for row in rows]
