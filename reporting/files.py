"""Writing a report's three files, each beside its final name and renamed into place.

A reader (a browser, a BI tool, a mail job) never opens a half-written file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingestion.parquet import fsync_directory
from reporting.cost_report import build_cost_report
from reporting.csv_export import render_csv
from reporting.figures import CostReport
from reporting.markdown import render_markdown
from reporting.periods import Period
from reporting.render import render_html


@dataclass(frozen=True)
class ReportFiles:
    """The three files of one report."""

    html: Path
    markdown: Path
    csv: Path


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def reports_directory(serving_database: Path) -> Path:
    """Where reports are written: `serving/reports/`, beside the serving database."""
    return serving_database.parent / "reports"


def write_report(report: CostReport, directory: Path) -> ReportFiles:
    """Write `cost-<period>.html`, `.md` and `.csv` into `directory`, each atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"cost-{report.period.label}"
    files = ReportFiles(
        stem.with_suffix(".html"), stem.with_suffix(".md"), stem.with_suffix(".csv")
    )
    _write_atomically(files.html, render_html(report))
    _write_atomically(files.markdown, render_markdown(report))
    _write_atomically(files.csv, render_csv(report))
    fsync_directory(directory)
    return files


def write_cost_report(
    serving_database: Path, directory: Path, period: Period, *, now: datetime | None = None
) -> tuple[CostReport, ReportFiles]:
    """Read the figures of `period` from the serving database and write the report files.

    Returns:
        The figures and the files written.
    """
    report = build_cost_report(serving_database, period, now=now)
    return report, write_report(report, directory)
