"""The erasure register: a forgotten person stays forgotten.

`forget` (governance.erasure) adds a keyed hash of every identifier of the person it erased
to `state/erasure-register.json` (owner-only), never the identifier. Every later OTel
landing, Compliance pull and billing pull drops the records whose identifier columns hash to
a registered value, and counts them, so that the next pull of a source that still holds the
person (the Compliance API, the billing and analytics reports) does not land them again.

Keys: HMAC-SHA256 under `COWORK_PII_PEPPER` when it is set (in any privacy mode), else under
the per-install key `state/.erasure-salt` (32 random bytes as hex, created owner-only by the
first erasure, never logged; the audit's request hashes use the same key). Each entry keeps
a fingerprint of its key, so a register written without the pepper still matches after one
is set; an entry whose key the run does not have (the pepper unset or changed since) stops
the landing with `RegisterKeyError` rather than let the person back in.

Matching: values are compared stripped and lower-cased. A strong identifier (an e-mail, an
account id or uuid, a third-party `enduser.id`) names the person wherever it appears; a
device (OTel `user.id`) only on records that name nobody else, the warehouse's own rule. The
columns are tested whole-column: the distinct values of each identifier column are hashed
(each value once per process), then an Arrow membership test marks the rows. An empty
register costs nothing: callers skip it (`ErasureRegister.__bool__`).

Concurrency: `forget` holds the landing lock and, exclusively, `state/.erasure.lock` while
it registers and erases. The OTel landing reads the register under the landing lock; an API
pull, which does not take the landing lock, reads it and writes each page under the shared
`.erasure.lock` (`RegisterGuard.hold`), so a record is either written before an erasure
(and erased by it) or checked against the register the erasure wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from configuration.errors import ConfigurationError
from configuration.settings import PII_PEPPER
from ingestion.locks import exclusive_lock, shared_lock
from ingestion.parquet import fsync_directory, write_lines_atomically
from ingestion.paths import DataLayout

REGISTER_FILE = "erasure-register.json"
INSTALL_KEY_FILE = ".erasure-salt"
LOCK_FILE = ".erasure.lock"
VERSION = 1
REDACTED = "[erased]"

STRONG = "strong"  # names exactly one person wherever it appears
DEVICE = "device"  # an OTel `user.id`: the person's only on records naming nobody else
KINDS = (STRONG, DEVICE)

# The columns naming a person, per landed dataset (what a landing drops records by).
OTEL_STRONG_COLUMNS = ("user_email", "user_account_id", "user_account_uuid")
OTEL_DEVICE_COLUMN = "user_id"
# Third-party deployments name the person by `enduser.id`, on the resource or the record.
OTEL_JSON_IDENTIFIERS = {"resource_json": "enduser.id", "attributes_json": "enduser.id"}
# Compliance: `user_id` is the account id; a directory user's own id is `id`.
COMPLIANCE_STRONG_COLUMNS = (
    "user_id",
    "actor_user_id",
    "email",
    "user_email",
    "actor_email_address",
    "actor_unauthenticated_email_address",
)
COMPLIANCE_USERS_STRONG_COLUMNS = (*COMPLIANCE_STRONG_COLUMNS, "id")
# Activities of other people about the person: their mentions are redacted, the row kept.
COMPLIANCE_MENTION_COLUMNS = ("details_json",)
# Claude Code Analytics names people by e-mail, Enterprise Analytics by e-mail and account
# id (`user_id`); the cost reports name nobody.
BILLING_STRONG_COLUMNS = ("email", "user_id")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A JSON string literal short enough to be an identifier (raw text that would not parse).
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.){1,256})"')
_CACHE_SIZE = 1 << 16


class RegisterKeyError(ConfigurationError):
    """The register holds hashes under a key this run does not have: nothing may land."""


def normalise(value: str) -> str:
    """How an identifier is compared: stripped and lower-cased (e-mails differ in case)."""
    return value.strip().lower()


@lru_cache(maxsize=_CACHE_SIZE)
def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of the normalised value, hex: what the register holds."""
    return hmac.new(key, normalise(value).encode(), hashlib.sha256).hexdigest()


def key_fingerprint(key: bytes) -> str:
    """A short, non-secret label of a key: which key an entry was hashed under."""
    return hmac.new(key, b"cowork-analytics erasure register", hashlib.sha256).hexdigest()[:16]


def register_path(layout: DataLayout) -> Path:
    """`state/erasure-register.json` of a data directory."""
    return layout.root / "state" / REGISTER_FILE


def _install_key_path(layout: DataLayout) -> Path:
    return layout.root / "state" / INSTALL_KEY_FILE


def install_key(layout: DataLayout, *, create: bool = False) -> bytes | None:
    """The per-install key (`state/.erasure-salt`), created owner-only if asked and missing."""
    path = _install_key_path(layout)
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # created meanwhile by another process: use theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            fsync_directory(path.parent)
    return path.read_text().strip().encode()


def writing_key(layout: DataLayout, pepper: bytes | None) -> bytes:
    """The key new hashes are written under: the pepper when set, else the install key."""
    return pepper if pepper else install_key(layout, create=True)  # type: ignore[return-value]


def lock_path(layout: DataLayout) -> Path:
    """The lock `forget` holds exclusively and an API pull's write holds shared."""
    return layout.root / "state" / LOCK_FILE


def _read_entries(layout: DataLayout) -> list[dict[str, str]]:
    path = register_path(layout)
    if not path.exists():
        return []
    document = json.loads(path.read_text())
    if document.get("version") != VERSION:
        raise RegisterKeyError(
            f"{path}: erasure register version {document.get('version')!r} is not"
            f" {VERSION}; refusing to land anything it might not stop"
        )
    return list(document.get("entries", []))


@dataclass(frozen=True)
class ErasureRegister:
    """The register as one run reads it: hashes per kind and the keys to hash under.

    Picklable (landing worker processes get a copy); holds no identifier.
    """

    keys: tuple[bytes, ...] = field(default=(), repr=False)  # secrets: never shown
    hashes: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        counts = ", ".join(f"{kind}={len(values)}" for kind, values in sorted(self.hashes.items()))
        return f"ErasureRegister({counts or 'empty'})"

    def __bool__(self) -> bool:
        return any(self.hashes.values())

    def __len__(self) -> int:
        return sum(len(values) for values in self.hashes.values())

    def is_erased(self, value: str | None, kind: str = STRONG) -> bool:
        """Whether one value is a registered identifier of that kind."""
        hashes = self.hashes.get(kind)
        if not value or not hashes or not value.strip():
            return False
        return any(keyed_hash(key, value) in hashes for key in self.keys)

    def erased_values(self, column: pa.Array | pa.ChunkedArray, kind: str = STRONG) -> pa.Array:
        """The distinct values of a text column that are registered (each hashed once)."""
        if not self.hashes.get(kind):
            return pa.array([], pa.string())
        distinct = pc.unique(column).to_pylist()
        return pa.array([v for v in distinct if self.is_erased(v, kind)], pa.string())

    def _membership(self, column: pa.ChunkedArray, kind: str) -> pa.Array | None:
        """Per row: its value is registered (None when no value of the column is)."""
        erased = self.erased_values(column, kind)
        if len(erased) == 0:
            return None
        return pc.fill_null(pc.is_in(column, value_set=erased), False)

    def erased_rows(
        self,
        table: pa.Table,
        strong: Iterable[str],
        device: str | None = None,
        json_identifiers: dict[str, str] | None = None,
    ) -> pa.Array | None:
        """Which rows are registered people's records; None when none is (the usual case).

        Args:
            table: the rows.
            strong: text columns holding strong identifiers (absent ones are skipped).
            device: the column of a device id: the row is the person's when its device is
                registered and no strong column names someone not registered.
            json_identifiers: JSON text column -> the key of an identifier inside it.
        """
        # Text columns only: a column of nulls alone (null type) names nobody.
        present = {f.name for f in table.schema if pa.types.is_string(f.type)}
        strong_columns = [table.column(name) for name in strong if name in present]
        for name, key in (json_identifiers or {}).items():
            if name in present:
                extracted = _json_field(table.column(name), key)
                if extracted is not None:
                    strong_columns.append(extracted)
        memberships = [self._membership(column, STRONG) for column in strong_columns]
        erased = _any([m for m in memberships if m is not None])
        if device and device in present and self.hashes.get(DEVICE):
            on_device = self._membership(table.column(device), DEVICE)
            if on_device is not None:
                # A strong identifier of someone not registered keeps the record theirs.
                named_otherwise = _any(
                    [
                        _named(column)
                        if membership is None
                        else pc.and_(_named(column), pc.invert(membership))
                        for column, membership in zip(strong_columns, memberships, strict=True)
                    ]
                )
                theirs = (
                    on_device
                    if named_otherwise is None
                    else pc.and_(on_device, pc.invert(named_otherwise))
                )
                erased = theirs if erased is None else pc.or_(erased, theirs)
        return erased

    def drop(
        self,
        table: pa.Table,
        strong: Iterable[str],
        device: str | None = None,
        json_identifiers: dict[str, str] | None = None,
    ) -> tuple[pa.Table, int]:
        """`table` without the registered people's rows, and how many went."""
        if not self:
            return table, 0
        erased = self.erased_rows(table, strong, device, json_identifiers)
        if erased is None:
            return table, 0
        dropped = pc.sum(erased).as_py() or 0
        return (table.filter(pc.invert(erased)), dropped) if dropped else (table, 0)

    def _redact_text(self, text: str) -> str:
        if self.is_erased(text):
            return REDACTED
        return EMAIL.sub(lambda m: REDACTED if self.is_erased(m.group(0)) else m.group(0), text)

    def redact_json(self, text: str | None) -> str | None:
        """JSON text with every string value naming a registered person replaced by `[erased]`.

        A string equal to an identifier goes whole; an e-mail address inside a longer string
        is replaced where it stands.
        """
        if text is None or not self:
            return text
        try:
            document = json.loads(text)
        except ValueError:
            return self._redact_text(text)

        def walk(node: object) -> object:
            if isinstance(node, str):
                return self._redact_text(node)
            if isinstance(node, list):
                return [walk(item) for item in node]
            if isinstance(node, dict):
                return {name: walk(value) for name, value in node.items()}
            return node

        redacted = walk(document)
        return text if redacted == document else json.dumps(redacted, sort_keys=True)

    def redact_columns(self, table: pa.Table, columns: Iterable[str]) -> tuple[pa.Table, int]:
        """`table` with mentions of registered people redacted in its JSON text `columns`."""
        if not self:
            return table, 0
        changed_rows = 0
        for name in columns:
            if name not in table.column_names:
                continue
            values = table.column(name).to_pylist()
            redacted = [self.redact_json(value) for value in values]
            changed = sum(a != b for a, b in zip(values, redacted, strict=True))
            if changed:
                index = table.schema.get_field_index(name)
                column = pa.array(redacted, table.schema.field(name).type)
                table = table.set_column(index, table.schema.field(name), column)
                changed_rows += changed
        return table, changed_rows

    def names_anyone(self, item: object) -> bool:
        """Whether a raw record (parsed JSON, or text) names a registered person anywhere."""
        if not self:
            return False
        if isinstance(item, str):
            return self._text_names_anyone(item)
        if isinstance(item, dict):
            return any(self.names_anyone(v) for v in (*item.keys(), *item.values()))
        if isinstance(item, list):
            return any(self.names_anyone(v) for v in item)
        return False

    def _text_names_anyone(self, text: str) -> bool:
        if self.is_erased(text) or self.is_erased(text, DEVICE):
            return True
        candidates = set(EMAIL.findall(text)) | set(_JSON_STRING.findall(text))
        return any(self.is_erased(c) or self.is_erased(c, DEVICE) for c in candidates)


def _named(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Per row: the column holds a value (blank text counts as none, as in staging)."""
    return pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(column), ""), False)


def _any(masks: list[pa.Array]) -> pa.Array | None:
    if not masks:
        return None
    result = masks[0]
    for mask in masks[1:]:
        result = pc.or_(result, mask)
    return result


def _json_field(column: pa.ChunkedArray, key: str) -> pa.ChunkedArray | None:
    """Per row, the string value of `key` in a JSON object text (null elsewhere).

    A substring test first: only rows mentioning the key are parsed (usually none).
    """
    mentioned = pc.fill_null(pc.match_substring(column, f'"{key}"'), False)
    if not pc.any(mentioned).as_py():
        return None
    rows = np.flatnonzero(mentioned.to_numpy(zero_copy_only=False))
    values: list[str | None] = [None] * len(column)
    parsed: dict[str, str | None] = {}
    for row, text in zip(rows, column.take(pa.array(rows)).to_pylist(), strict=True):
        if text not in parsed:
            try:
                value = json.loads(text).get(key)
            except (ValueError, AttributeError):
                value = None
            parsed[text] = value if isinstance(value, str) else None
        values[row] = parsed[text]
    return pa.chunked_array([pa.array(values, pa.string())])


def load_register(layout: DataLayout, pepper: bytes | None = None) -> ErasureRegister:
    """The register of a data directory, ready to match with (empty when there is none).

    Args:
        layout: the data directory.
        pepper: `COWORK_PII_PEPPER` when set (any privacy mode), else None.

    Raises:
        RegisterKeyError: some entries were hashed under a key this run does not have.
    """
    entries = _read_entries(layout)
    if not entries:
        return ErasureRegister()
    available = {}
    for key in (pepper, install_key(layout)):
        if key:
            available[key_fingerprint(key)] = key
    hashes: dict[str, set[str]] = defaultdict(set)
    used: set[str] = set()
    missing = 0
    for entry in entries:
        if entry["key"] not in available:
            missing += 1
            continue
        used.add(entry["key"])
        hashes[entry["kind"]].add(entry["hash"])
    if missing:
        raise RegisterKeyError(
            f"the erasure register holds {missing} identifier(s) of forgotten people hashed"
            f" under a key this run does not have ({PII_PEPPER} is unset, or has changed"
            " since they were forgotten): nothing is landed, so that they are not landed"
            f" again. Set {PII_PEPPER} to the value `forget` ran with."
        )
    return ErasureRegister(
        keys=tuple(available[fingerprint] for fingerprint in sorted(used)),
        hashes={kind: frozenset(values) for kind, values in hashes.items()},
    )


def add_to_register(
    layout: DataLayout, identifiers: dict[str, Iterable[str]], pepper: bytes | None = None
) -> int:
    """Register identifiers (kind -> values) of a forgotten person; returns how many are new.

    Written atomically and owner-only (temporary file, fsync, rename). The caller holds
    `lock_path(layout)` exclusively and the landing lock.
    """
    key = writing_key(layout, pepper)
    fingerprint = key_fingerprint(key)
    entries = _read_entries(layout)
    known = {(entry["hash"], entry["kind"]) for entry in entries}
    added = 0
    for kind, values in identifiers.items():
        if kind not in KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}")
        for value in values:
            if not value or not value.strip():
                continue
            hashed = keyed_hash(key, value)
            if (hashed, kind) not in known:
                entries.append({"hash": hashed, "kind": kind, "key": fingerprint})
                known.add((hashed, kind))
                added += 1
    if not added:
        return 0
    document = {
        "version": VERSION,
        "about": "keyed hashes of the identifiers of forgotten people (see docs/adr/0009)",
        "entries": sorted(entries, key=lambda e: (e["kind"], e["key"], e["hash"])),
    }
    write_lines_atomically(register_path(layout), [json.dumps(document, indent=1)])
    return added


class RegisterGuard:
    """An API pull's view of the register: checked once up front, re-read when it changed.

    Args:
        layout: the data directory.
        pepper: `COWORK_PII_PEPPER` when set, else None.

    Raises:
        RegisterKeyError: (at construction) a key of the register is missing.
    """

    def __init__(self, layout: DataLayout, pepper: bytes | None = None):
        self.layout = layout
        self.pepper = pepper
        self._stamp: tuple[int, int, int] | None = None
        self._register = ErasureRegister()
        self._current()

    def _current(self) -> ErasureRegister:
        try:
            status = register_path(self.layout).stat()
        except FileNotFoundError:
            self._stamp, self._register = None, ErasureRegister()
            return self._register
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._register = load_register(self.layout, self.pepper)
            self._stamp = stamp
        return self._register

    @property
    def register(self) -> ErasureRegister:
        """The register as last read (for checks outside a write, such as quarantine)."""
        return self._current()

    @contextmanager
    def hold(self) -> Iterator[ErasureRegister]:
        """The current register, with no erasure able to start until the write is done."""
        with shared_lock(lock_path(self.layout)):
            yield self._current()


@contextmanager
def registering(layout: DataLayout) -> Iterator[None]:
    """Hold the register exclusively (`forget`): no API pull writes meanwhile."""
    with exclusive_lock(lock_path(layout)):
        yield
