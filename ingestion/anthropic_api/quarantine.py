"""Quarantine of API records that cannot land: kept, explained, counted.

Layout: `<root>/<entity>/<pull date>-page-<digest>.jsonl` (the Compliance API's root is
`landing/compliance/quarantine/`, the billing APIs' `landing/billing/quarantine/`), one file
per page with malformed records, where the digest is of the endpoint path and the query
that fetched the page, so fetching the same page again the same day (a rerun after a crash)
replaces its file instead of adding a copy. Each line: `entity`, `endpoint`, `params` (the
query; the key is a header and never in it), `page` (1-based in that pull), `cursor` (the
`after_id` or page token that fetched it), `index` (in `data`; null when `data` was not a
list), `reason`, `record_json` (the record as JSON text) and `quarantined_at`. Files are
owner-only (0o600: records hold e-mail addresses) and written atomically. A malformed
record naming a forgotten person (`erased`: the erasure register's test) is not kept, only
counted (`erased_counts`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ingestion.anthropic_api.paging import Page, page_items
from ingestion.anthropic_api.records import MalformedRecord, describe
from ingestion.parquet import write_lines_atomically

LOGGER = logging.getLogger(__name__)
Row = TypeVar("Row")


def _number(value: object) -> float | str:
    """A number a client read exactly (`Decimal`, for money) as JSON can write it.

    The float when it has the same value, else the digits as a string (never rounded).
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"{type(value).__name__} is not JSON")
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def _raw_json(item: object) -> str | None:
    try:
        # NaN and Infinity kept as written: this is the raw record.
        return json.dumps(item, default=_number)
    except RecursionError:
        return None


class Quarantine:
    """Splits pages into rows that land and records that are quarantined.

    Args:
        root: the quarantine folder of one API family.
        redact: removes the key (and key-shaped text) from server text before it is stored.
        counts: quarantined records per entity, added to (a PullSummary's).
        erased: whether a raw record names a forgotten person (it is then dropped, not kept).
        erased_counts: records dropped so per entity, added to.
    """

    def __init__(
        self,
        root: Path,
        redact: Callable[[str], str],
        counts: dict[str, int],
        erased: Callable[[object], bool] | None = None,
        erased_counts: dict[str, int] | None = None,
    ):
        self.root = root
        self.redact = redact
        self.counts = counts
        self.erased = erased
        self.erased_counts = erased_counts if erased_counts is not None else {}
        self.day = datetime.now(UTC).date()
        # file (None when every record was a forgotten person's), entity, records kept,
        # records dropped as a forgotten person's
        self._written: list[tuple[Path | None, str, int, int]] = []

    def mark(self) -> int:
        """A point to `discard_since` when a listing starts again from its first page."""
        return len(self._written)

    def records_since(self, mark: int) -> int:
        """Records quarantined since `mark`."""
        return sum(records for _, _, records, _ in self._written[mark:])

    def discard_since(self, mark: int) -> None:
        """Forget what was quarantined since `mark`, files and counts.

        A restarted listing quarantines its records again: they must not count twice.
        """
        for path, entity, records, erased in self._written[mark:]:
            for counts, number in ((self.counts, records), (self.erased_counts, erased)):
                if number:
                    counts[entity] -= number
                    if not counts[entity]:
                        del counts[entity]
            if path is not None:
                path.unlink(missing_ok=True)
        del self._written[mark:]

    def rows(self, entity: str, page: Page, build: Callable[[object], Row]) -> list[Row]:
        """The rows `build` makes from the page's records; the rest go to quarantine.

        Args:
            entity: the landed entity (names the quarantine folder and the count).
            page: the fetched page.
            build: record -> row, raising MalformedRecord for a record that cannot land.

        Returns:
            The rows of the well-formed records, in page order.
        """
        data = page.body.get("data")
        if data is not None and not isinstance(data, list):
            self._write(entity, page, [(None, f"page data is {describe(data)}, not a list", data)])
            return []
        rows, bad = [], []
        for index, item in enumerate(page_items(page.body)):
            try:
                rows.append(build(item))
            except MalformedRecord as error:
                bad.append((index, str(error), item))
        if bad:
            self._write(entity, page, bad)
        return rows

    def path(self, entity: str, page: Page) -> Path:
        """The quarantine file of one page of one entity."""
        request = json.dumps([page.path, page.params], sort_keys=True, default=str)
        digest = hashlib.sha256(request.encode()).hexdigest()[:16]
        return self.root / entity / f"{self.day.isoformat()}-page-{digest}.jsonl"

    def _write(self, entity: str, page: Page, bad: list[tuple[int | None, str, Any]]) -> None:
        erased = 0
        if self.erased is not None:
            kept = [entry for entry in bad if not self.erased(entry[2])]
            erased, bad = len(bad) - len(kept), kept
            if erased:
                self.erased_counts[entity] = self.erased_counts.get(entity, 0) + erased
            if not bad:
                self._written.append((None, entity, 0, erased))
                return
        now = datetime.now(UTC).isoformat()
        lines = []
        for index, reason, item in bad:
            raw = _raw_json(item)
            entry = {
                "entity": entity,
                "endpoint": page.path,
                "params": page.params,
                "page": page.number,
                "cursor": page.cursor,
                "index": index,
                "reason": reason if raw is not None else f"{reason}; too deeply nested to keep",
                "record_json": raw,
                "quarantined_at": now,
            }
            # The server sent the cursor and the record: neither may store an echoed key.
            lines.append(self.redact(json.dumps(entry, default=str)))
        target = write_lines_atomically(self.path(entity, page), lines)
        self.counts[entity] = self.counts.get(entity, 0) + len(bad)
        self._written.append((target, entity, len(bad), erased))
        LOGGER.warning(
            "%s page %d: %d malformed record(s) quarantined in %s (first: %s)",
            page.path,
            page.number,
            len(bad),
            target,
            self.redact(bad[0][1]),
        )
