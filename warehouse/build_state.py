"""The build database between steps: one writer, the latest outcome, damage recovery.

dbt and the publish are separate steps (separate Dagster ops, or one after the other in
`cowork-analytics build`), and two runs may overlap. Three rules keep readers safe:

- Every step that writes or publishes the build database holds `warehouse_lock`, an
  exclusive lock on a file beside it, so a second run waits instead of failing on DuckDB's
  file lock (the Dagster pool does the same inside Dagster and shows it as queued).
- A build records its outcome in `latest-build.json` as soon as it starts (`running`) and
  when it ends (`passed` or `failed`). A publish goes ahead only after `passed`, so a
  publish that ran after another run's failed or killed build never serves its half-built
  marts.
- A build file DuckDB cannot open (a damaged file or WAL, a disk that filled up mid-write),
  or one a build found damaged while reading it (`damaged`), is moved aside and rebuilt
  from the landed Parquet, which holds everything it was made from.

`building()` applies the three around one dbt build, whoever runs dbt (the CLI's child
process or Dagster's dbt resource), and `warehouse.publish.publish_build` publishes only
what it recorded as `passed`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.locks import exclusive_lock
from ingestion.paths import DataLayout

# DuckDB's message when another process holds the file: not damage, just a busy file.
LOCK_CONFLICT_MARKERS = ("Could not set lock", "Conflicting lock")
# DuckDB's messages for a file whose blocks or headers are damaged.
DAMAGE_MARKERS = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "computed checksum",
    "Could not read enough bytes",
)


class BuildNotPublishableError(RuntimeError):
    """The latest build of the build database did not pass (or never finished)."""


def _lock_path(layout: DataLayout) -> Path:
    return layout.build_database.with_name(".warehouse.lock")


def _outcome_path(layout: DataLayout) -> Path:
    return layout.build_database.with_name("latest-build.json")


def warehouse_lock(layout: DataLayout, on_wait=None):
    """Hold the exclusive lock of the build database (waits for the holder to finish).

    Args:
        layout: the data directory.
        on_wait: called once, before waiting, when another process holds the lock.
    """
    return exclusive_lock(_lock_path(layout), on_wait)


def reports_damage(messages: list[str]) -> bool:
    """Whether dbt's error messages say the build database itself is damaged."""
    return any(marker in message for message in messages for marker in DAMAGE_MARKERS)


def record_build(layout: DataLayout, outcome: str, run: str | None = None) -> None:
    """Record the latest build's outcome (atomically).

    Outcomes: `running`, `passed`, `failed`, and `damaged` (the next build starts afresh).
    """
    path = _outcome_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(
        json.dumps({"outcome": outcome, "run": run, "at": datetime.now(UTC).isoformat()})
    )
    temporary.replace(path)


def latest_build(layout: DataLayout) -> dict[str, str | None]:
    """The latest recorded build (`outcome` is `none` before the first)."""
    path = _outcome_path(layout)
    if not path.exists():
        return {"outcome": "none", "run": None, "at": None}
    return json.loads(path.read_text())


def require_publishable(layout: DataLayout) -> None:
    """Raise unless the latest build passed (call it holding `warehouse_lock`).

    Raises:
        BuildNotPublishableError: with what happened to the latest build.
    """
    latest = latest_build(layout)
    if latest["outcome"] != "passed":
        raise BuildNotPublishableError(
            f"the latest build (run {latest['run'] or 'unknown'}, {latest['at'] or 'never'})"
            f" is {latest['outcome']}, not passed: the serving database was left as it was"
        )


def discard_if_unreadable(layout: DataLayout) -> Path | None:
    """Move a build database DuckDB cannot open aside, so the next build starts afresh.

    Returns:
        Where the damaged file was moved, or None when it opened (or does not exist).

    Raises:
        duckdb.IOException: another process holds the file (it is busy, not damaged).
    """
    database = layout.build_database
    if not database.exists():
        return None
    if latest_build(layout)["outcome"] != "damaged":
        try:
            with duckdb.connect(str(database)) as connection:
                connection.execute("select count(*) from duckdb_tables()").fetchone()
            return None
        except duckdb.Error as error:
            if any(marker in str(error) for marker in LOCK_CONFLICT_MARKERS):
                raise
    # Keep the latest damaged copy for a post-mortem, not every one (they are large).
    aside = database.parent / "damaged"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir(parents=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for path in (database, database.with_name(database.name + ".wal")):
        if path.exists():
            path.replace(aside / f"{stamp}-{path.name}")
    return aside


@dataclass
class BuildAttempt:
    """One dbt build of the build database, as `building()` recorded it."""

    layout: DataLayout
    run: str
    discarded: Path | None = None  # where an unreadable build file was moved aside
    outcome: str | None = None  # `passed`, `failed` or `damaged` once finished
    messages: list[str] = field(default_factory=list)  # dbt's errors, when it failed

    def finish(self, passed: bool, messages: Iterable[str] = ()) -> str:
        """Record how dbt ended: `passed`, `damaged` (the file itself) or `failed`.

        Args:
            passed: every model and blocking test succeeded.
            messages: dbt's error messages when it did not (they tell damage apart).
        """
        self.messages = [] if passed else [message for message in messages if message]
        self.outcome = "passed" if passed else "damaged" if self.damaged else "failed"
        record_build(self.layout, self.outcome, self.run)
        return self.outcome

    @property
    def damaged(self) -> bool:
        """Whether the build file itself is damaged: rebuild it (once) from the landing."""
        return reports_damage(self.messages)

    @property
    def busy(self) -> bool:
        """Something outside the pipeline held the build file: try again later."""
        return any(m in message for message in self.messages for m in LOCK_CONFLICT_MARKERS)


@contextmanager
def building(
    layout: DataLayout,
    run: str,
    *,
    on_wait: Callable[[], None] | None = None,
    lock_held: bool = False,
) -> Iterator[BuildAttempt]:
    """Hold the warehouse for one dbt build and record its outcome.

    Takes `warehouse_lock` (unless the caller holds it), moves an unreadable build file
    aside, records `running`, and leaves the outcome the caller gives `finish()` (or
    `failed`, when the block ends without one). The caller runs dbt inside the block.

    Args:
        layout: the data directory.
        run: who builds (a Dagster run id, or `cli-<pid>`), for the outcome record.
        on_wait: called once when another build holds the warehouse and this one waits.
        lock_held: the caller already holds `warehouse_lock` (a retry, an erasure).

    Raises:
        duckdb.IOException: another process holds the build file open.
    """
    with nullcontext() if lock_held else warehouse_lock(layout, on_wait=on_wait):
        layout.build_database.parent.mkdir(parents=True, exist_ok=True)
        attempt = BuildAttempt(layout, run, discarded=discard_if_unreadable(layout))
        record_build(layout, "running", run)
        try:
            yield attempt
        finally:
            if attempt.outcome is None:  # dbt raised or was interrupted
                attempt.finish(False)
