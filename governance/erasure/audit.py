"""What an erasure did, and the owner-only audit line and pending marker it leaves.

An audit line goes to `state/erasure-audit.jsonl`: a keyed hash of the request, counts and
timings, never the identifier itself. `state/erasure-pending.json` holds only the request's
hash until the rebuild passed, so a rerun can finish an erasure whose person is already gone
from everything that could resolve them.
"""

from __future__ import annotations

import getpass
import hmac
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from configuration.settings import Secret
from ingestion.erasure_register import INSTALL_KEY_FILE, writing_key
from ingestion.paths import DataLayout

AUDIT_FILE = "erasure-audit.jsonl"
SALT_FILE = INSTALL_KEY_FILE  # the per-install key, shared with the erasure register
PENDING_FILE = "erasure-pending.json"  # the request hash of an unfinished erasure


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
    identifiers_registered: int = 0  # new entries of the erasure register
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
            "identifiers_registered": self.identifiers_registered,
            "full_refresh": self.full_refresh,
            "build_success": self.build_success,
            "seconds": round(self.seconds, 3),
        }


def _hash_key(layout: DataLayout, pepper: Secret | None) -> bytes:
    """The pepper (`COWORK_PII_PEPPER`) when set, else the per-install key in state/."""
    return writing_key(layout, pepper.value.encode() if pepper is not None else None)


def request_hash(layout: DataLayout, identifier: str, pepper: Secret | None = None) -> str:
    """A keyed hash of the request: the same person hashes alike, but cannot be read back."""
    return hmac.new(
        _hash_key(layout, pepper), identifier.strip().lower().encode(), "sha256"
    ).hexdigest()


def append_audit(layout: DataLayout, summary: ErasureSummary) -> Path:
    """Append one owner-only audit line: when, who ran it, and the summary's counts."""
    record = {
        "at": datetime.now(UTC).isoformat(),
        "operator": _login(),
        **summary.as_dict(),
    }
    path = layout.root / "state" / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o600)
    return path


def _pending_path(layout: DataLayout) -> Path:
    return layout.root / "state" / PENDING_FILE


def is_pending(layout: DataLayout, hashed: str) -> bool:
    """Whether an erasure of this request hash started and has not finished."""
    path = _pending_path(layout)
    return path.exists() and json.loads(path.read_text()).get("request_hash") == hashed


def mark_pending(layout: DataLayout, hashed: str) -> None:
    """Record (owner-only, atomically) that the erasure of this request hash started."""
    path = _pending_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"request_hash": hashed, "at": datetime.now(UTC).isoformat()}))
    temporary.chmod(0o600)
    os.replace(temporary, path)


def clear_pending(layout: DataLayout) -> None:
    """The erasure finished: forget its marker."""
    _pending_path(layout).unlink(missing_ok=True)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
