"""The one place that reads the environment for the orchestration layer.

`COWORK_DATA_DIR` (default `./data`) holds landing, state, build and serving files;
`COWORK_OTEL_DIR` (default `<data>/simulated/otel`) is where the collector writes, several
folders separated by the platform's path separator; `COWORK_PRIVACY` says what happens to
prompt, response and tool-input text.
"""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data directory, made absolute so that dbt (run from the repository) agrees."""
    return Path(os.environ.get("COWORK_DATA_DIR", "data")).expanduser().resolve()


def otel_dirs() -> list[Path]:
    """The folders the OpenTelemetry Collector's file exporter writes to."""
    configured = os.environ.get("COWORK_OTEL_DIR")
    if not configured:
        return [data_dir() / "simulated" / "otel"]
    return [Path(part).expanduser().resolve() for part in configured.split(os.pathsep) if part]


def privacy_mode() -> str:
    """`COWORK_PRIVACY`: strict, standard (default) or full; see ingestion.otel.privacy."""
    return os.environ.get("COWORK_PRIVACY", "standard")


def compliance_configured() -> bool:
    """Whether a Compliance API key is set (`ANTHROPIC_COMPLIANCE_API_KEY`)."""
    return bool(os.environ.get("ANTHROPIC_COMPLIANCE_API_KEY"))


def skipped_sources() -> list[str]:
    """One notice per source a run will skip: no Compliance key, an OTel folder missing."""
    notices = []
    if not compliance_configured():
        notices.append(
            "Compliance API: ANTHROPIC_COMPLIANCE_API_KEY is not set, so its pulls are skipped;"
            " the marts build from OTel alone."
        )
    for folder in otel_dirs():
        if not folder.exists():
            notices.append(
                f"OTel: the collector folder {folder} does not exist (set COWORK_OTEL_DIR), so"
                " nothing is landed from it."
            )
    return notices
