"""Retention: drop landed date partitions older than the configured number of days.

The days are settings (`Settings.content_retention_days`, `raw_retention_days`):
`COWORK_RETENTION_DAYS` bounds the raw content area (prompt, response and tool-input text);
`COWORK_RAW_RETENTION_DAYS` bounds every landed dataset: OTel (events, metrics, content),
the Compliance API's (activities by created date, directory and session snapshots by
snapshot date) and the billing reports' (by their day), and the three quarantines (by the
time a file was written). Whole partitions go: each is first renamed out of the landing (so
a reader sees the whole day or none of it), then deleted. The OTel marts keep their
aggregates: staging is incremental by day and only re-stages days that received new
records, so a day whose raw partition is gone stays built (a `--full-refresh` would lose
it: see the README). The Compliance and billing models read their landing whole, so their
marts cover the days kept; the pulls fetch nothing older (their `keep_days`).
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
    quarantine_files_dropped: int = 0  # OTel, Compliance and billing quarantines

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
            aside = trash / f"{area.parent.name}-{area.name}-{partition.name}-{os.getpid()}"
            os.replace(partition, aside)  # gone from the landing at once, whole
            shutil.rmtree(aside)
            dropped += 1
    if dropped:
        fsync_directory(area)
    return dropped


def _landed_areas(layout: DataLayout) -> dict[str, Path]:
    """Name -> folder of every dated landed dataset under `raw_days` (not the quarantines).

    OTel's keep their folder names ("events"); the API sources' are prefixed with theirs.
    """
    areas = {
        area.name: area for area in (layout.otel_events, layout.otel_metrics, layout.otel_content)
    }
    for source, area_of in (("compliance", layout.compliance), ("billing", layout.billing)):
        root = area_of("quarantine").parent
        if root.exists():
            for area in sorted(root.iterdir()):
                if area.is_dir() and area.name != "quarantine":
                    areas[f"{source}_{area.name}"] = area
    return areas


def _drop_old_files(folder: Path, oldest: float) -> int:
    """Delete the files under `folder` (recursively) last written before `oldest`."""
    dropped = 0
    if folder.exists():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()
                dropped += 1
    return dropped


def apply_retention(
    layout: DataLayout,
    now: datetime | None = None,
    content_days: int | None = None,
    raw_days: int | None = None,
) -> RetentionSummary:
    """Drop landed partitions older than `content_days` (content) / `raw_days` (everything).

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
        limits: dict[str, tuple[Path, int]] = {}
        if raw_days is not None:
            for name, area in _landed_areas(layout).items():
                limits[name] = (area, raw_days)
        if content_days is not None:
            content = layout.otel_content
            limits[content.name] = (content, min(content_days, raw_days or content_days))
        for name, (area, days) in limits.items():
            cutoff = now.date() - timedelta(days=days)
            dropped = _drop_partitions(area, cutoff, trash)
            if dropped:
                summary.partitions_dropped[name] = dropped
        if raw_days is not None:
            oldest = now.timestamp() - raw_days * 86400
            for quarantine in (
                layout.otel_quarantine,
                layout.compliance("quarantine"),
                layout.billing("quarantine"),
            ):
                summary.quarantine_files_dropped += _drop_old_files(quarantine, oldest)
        shutil.rmtree(trash, ignore_errors=True)
    return summary
