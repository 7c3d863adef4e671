"""Retention: drop landed OTel date partitions older than the configured number of days.

The days are settings (`Settings.content_retention_days`, `raw_retention_days`):
`COWORK_RETENTION_DAYS` bounds the raw content area (prompt, response and tool-input text);
`COWORK_RAW_RETENTION_DAYS` bounds every landed OTel dataset (events, metrics, content) and
the quarantine. Whole partitions go: each is first renamed out of the landing (so a reader
sees the whole day or none of it), then deleted. The marts keep their aggregates: staging
is incremental by day and only re-stages days that received new records, so a day whose
raw partition is gone stays built (a `--full-refresh` would lose it: see the README).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ingestion.locks import exclusive_lock
from ingestion.parquet import fsync_directory
from ingestion.paths import DataLayout


@dataclass
class RetentionSummary:
    """What one retention pass dropped."""

    content_days: int | None = None
    raw_days: int | None = None
    partitions_dropped: dict[str, int] = field(default_factory=dict)  # area -> partitions
    quarantine_files_dropped: int = 0

    def as_dict(self) -> dict[str, object]:
        """Flat counts, for landing summaries and asset metadata."""
        return {
            "retention_content_days": self.content_days,
            "retention_raw_days": self.raw_days,
            "retention_partitions_dropped": sum(self.partitions_dropped.values()),
            "retention_quarantine_files_dropped": self.quarantine_files_dropped,
        }


def _partition_date(path: Path) -> date | None:
    _, _, value = path.name.partition("=")
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _drop_partitions(area: Path, cutoff: date, trash: Path) -> int:
    dropped = 0
    for partition in sorted(area.glob("*=*")):
        day = _partition_date(partition)
        if partition.is_dir() and day is not None and day < cutoff:
            trash.mkdir(parents=True, exist_ok=True)
            aside = trash / f"{area.name}-{partition.name}-{os.getpid()}"
            os.replace(partition, aside)  # gone from the landing at once, whole
            shutil.rmtree(aside)
            dropped += 1
    if dropped:
        fsync_directory(area)
    return dropped


def apply_retention(
    layout: DataLayout,
    now: datetime | None = None,
    content_days: int | None = None,
    raw_days: int | None = None,
) -> RetentionSummary:
    """Drop landed partitions older than `content_days` (content) / `raw_days` (all OTel).

    A partition is dropped when its date is before `now`'s date minus the days (so
    `raw_days=30` keeps today and the 30 days before it). None keeps all.
    Holds the landing lock, so it never runs beside a landing.
    """
    now = now or datetime.now().astimezone()
    summary = RetentionSummary(content_days=content_days, raw_days=raw_days)
    if content_days is None and raw_days is None:
        return summary
    trash = layout.root / "state" / ".retention-trash"
    with exclusive_lock(layout.manifest.with_name(".landing.lock")):
        limits = {}
        if raw_days is not None:
            for area in (layout.otel_events, layout.otel_metrics, layout.otel_content):
                limits[area] = raw_days
        if content_days is not None:
            limits[layout.otel_content] = min(content_days, limits.get(layout.otel_content, 10**6))
        for area, days in limits.items():
            cutoff = now.date() - timedelta(days=days)
            dropped = _drop_partitions(area, cutoff, trash)
            if dropped:
                summary.partitions_dropped[area.name] = dropped
        if raw_days is not None and layout.otel_quarantine.exists():
            oldest = now.timestamp() - raw_days * 86400
            for path in layout.otel_quarantine.iterdir():
                if path.is_file() and path.stat().st_mtime < oldest:
                    path.unlink()
                    summary.quarantine_files_dropped += 1
        shutil.rmtree(trash, ignore_errors=True)
    return summary
