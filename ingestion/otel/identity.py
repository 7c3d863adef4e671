"""Which input file is this? The landing's file identity.

The collector renames its live file when it rotates; operators copy and move files; a
restarted collector can begin a file with the very message another file began with; a
file can be truncated and written again. Like the collector's own filelog receiver, the
landing knows a file by:
- its head: the bytes up to the end of its first whole message (at most 64 KiB), which
  never change once written. Blank lines before that message count: the file exporter
  writes a message and its newline in two writes, so a rotation between them starts the
  next file with a bare newline, and a head of "the first line" would give every such
  file the same identity;
- its device and inode, which a rename keeps;
- a hash of the bytes just before its landed offset, which shows that the file still
  holds what was landed from it (a truncated and rewritten one does not).
A file whose head and device and inode match a landed one, and which still holds what was
landed, carries on from where it was. One that holds what a landed file held while that
file is gone from where it was has moved (to another filesystem, or back from a backup),
and carries on too. One whose bytes are all in a landed file still present is a copy and
lands nothing. Anything else is a new file, landed from its first byte.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import zstandard

from ingestion.manifest import LandedFile, Manifest
from ingestion.otel.framing import Framing, detect_file_framing, is_rotated

HEAD_BYTES = 64 << 10
TAIL_BYTES = 4 << 10
_COMPARE_PIECE = 1 << 20


@dataclass(frozen=True)
class Identified:
    """What the landing does with a file.

    Attributes:
        file: the file as seen now, with `landed_offset` where landing carries on.
        copy: the file's bytes are all in another file already landed or being landed:
            land nothing (and remember the copy when `file` is given).
    """

    file: LandedFile | None
    copy: bool = False


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def head_of(raw: bytes, framing: Framing, final: bool) -> bytes | None:
    """The file's head from its first `HEAD_BYTES` bytes, or None before it is whole.

    Args:
        raw: the file's first bytes (up to `HEAD_BYTES`).
        framing: the file's framing.
        final: the file is rotated and will not grow, so what it holds is its head.
    """
    whole = len(raw) >= HEAD_BYTES or (final and bool(raw.strip()))
    if framing is Framing.JSON_LINES:
        start = 0
        while (end := raw.find(b"\n", start)) >= 0:
            if raw[start:end].strip():
                return raw[: end + 1]
            start = end + 1
    elif framing is Framing.LENGTH_PREFIXED:
        end = 4 + int.from_bytes(raw[:4], "big")
        if len(raw) >= end:
            return raw[:end]
    elif framing is Framing.ZSTD_STREAM:
        frame = zstandard.ZstdDecompressor().decompressobj()
        try:
            frame.decompress(raw)
        except zstandard.ZstdError:
            pass  # a corrupt first frame: the raw bytes are the head once they cannot grow
        else:
            if frame.eof:
                return raw[: len(raw) - len(frame.unused_data)]
    return raw if whole else None


def legacy_fingerprint(raw: bytes, framing: Framing) -> str | None:
    """The fingerprint release 1 of the manifest store gave a file (its first line).

    Rows landed then are found by it once, and then carry a head, device and inode.
    """
    if framing is Framing.JSON_LINES:
        end = raw.find(b"\n")
        if end < 0:
            return _sha256(raw) if len(raw) >= HEAD_BYTES else None
        return _sha256(raw[: end + 1])
    if framing is Framing.LENGTH_PREFIXED:
        end = min(4 + int.from_bytes(raw[:4], "big"), HEAD_BYTES)
        return _sha256(raw[:end]) if len(raw) >= end else None
    return _sha256(raw) if len(raw) >= 64 else None


def tail_hash(descriptor: int, offset: int) -> str:
    """Hash of the `TAIL_BYTES` bytes before `offset` of an open file."""
    start = max(0, offset - TAIL_BYTES)
    return _sha256(os.pread(descriptor, offset - start, start))


def _holds(path: Path, size: int, landed: LandedFile) -> bool:
    """Whether the file at `path` still holds the bytes landed from `landed`."""
    if size < landed.landed_offset:
        return False
    if landed.tail_hash is None:  # a row from release 1: its size is all there is to go on
        return True
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return tail_hash(descriptor, landed.landed_offset) == landed.tail_hash
    finally:
        os.close(descriptor)


def _is_prefix_of(path: Path, size: int, original: Path) -> bool:
    """Whether the file at `path` (of `size` bytes) is the start of `original`, byte for byte."""
    if original.stat().st_size < size:
        return False
    with path.open("rb") as copy, original.open("rb") as source:
        remaining = size
        while remaining > 0:
            piece = min(_COMPARE_PIECE, remaining)
            if copy.read(piece) != source.read(piece):
                return False
            remaining -= piece
    return True


class FileIdentifier:
    """Identifies one landing run's files against the manifest and each other."""

    def __init__(self, manifest: Manifest):
        self._manifest = manifest
        # Files planned in this run by fingerprint: a second path to one of them (a hard
        # link, a copy) must not land its bytes again.
        self._planned: dict[str, LandedFile] = {}

    def identify(self, path: Path, framing: Framing) -> Identified | None:
        """How to land the file at `path`, or None while it holds no whole message.

        Raises:
            OSError: the file cannot be read (FileNotFoundError: renamed since listed).
        """
        status = os.stat(path)
        raw = _read_head(path)
        head = head_of(raw, framing, final=is_rotated(path))
        if head is None:
            return None
        head_hash = _sha256(head)
        here = LandedFile(
            fingerprint=head_hash,
            last_path=str(path),
            landed_offset=0,
            head_hash=head_hash,
            device=status.st_dev,
            inode=status.st_ino,
            tail_hash=None,
        )
        known = {
            landed.fingerprint: landed
            for landed in self._manifest.files_like(head_hash, legacy_fingerprint(raw, framing))
        }
        known.update(
            (fingerprint, planned)
            for fingerprint, planned in self._planned.items()
            if planned.head_hash == head_hash
        )
        identified = self._match(path, status.st_size, here, known)
        if identified.file is not None and not identified.copy:
            if identified.file.fingerprint in self._planned:
                return Identified(None, copy=True)
            self._planned[identified.file.fingerprint] = identified.file
        return identified

    def _match(
        self, path: Path, size: int, here: LandedFile, known: dict[str, LandedFile]
    ) -> Identified:
        # The longest landed run first: a file rewritten with the same bytes carries on
        # from the furthest point it is known to hold.
        candidates = sorted(known.values(), key=lambda landed: -landed.landed_offset)
        for landed in candidates:
            if self._is_this_file(landed, path, here) and _holds(path, size, landed):
                if landed.copy_of is not None:
                    if size == landed.landed_offset:
                        return Identified(None, copy=True)  # the same copy as last time
                    continue  # a copy that changed: look at it again below
                return Identified(_carry_on(landed, here))
        for landed in candidates:
            if landed.copy_of is not None:
                continue
            original = self._where_now(landed)
            if original is None:
                if _holds(path, size, landed):  # moved here from where it was landed
                    return Identified(_carry_on(landed, here))
            elif original != path and _is_prefix_of(path, size, original):
                copy = replace(
                    here,
                    fingerprint=self._new_fingerprint(here, known),
                    landed_offset=size,
                    copy_of=landed.fingerprint,
                )
                return Identified(copy, copy=True)
        return Identified(replace(here, fingerprint=self._new_fingerprint(here, known)))

    def _new_fingerprint(self, here: LandedFile, known: dict[str, LandedFile]) -> str:
        """The head's hash, or that hash with device, inode and count when another has it.

        A rerun after a crash gives the same one (nothing of this file was committed), so
        its part files keep their names.
        """
        if here.head_hash not in known and self._manifest.file(here.head_hash) is None:
            return here.head_hash
        return _sha256(f"{here.head_hash}:{here.device}:{here.inode}:{len(known)}".encode())

    @staticmethod
    def _is_this_file(landed: LandedFile, path: Path, here: LandedFile) -> bool:
        if landed.device is None:  # a row from release 1: known by where it was
            return landed.last_path == str(path)
        return (landed.device, landed.inode) == (here.device, here.inode)

    def _where_now(self, landed: LandedFile) -> Path | None:
        """Where the landed file still is (its last path, unchanged), or None if gone."""
        path = Path(landed.last_path)
        try:
            status = os.stat(path)
        except OSError:
            return None
        if landed.device is not None:
            same = (status.st_dev, status.st_ino) == (landed.device, landed.inode)
            return path if same else None
        try:  # a row from release 1: the file at its path must still have its fingerprint
            framing = detect_file_framing(path)
            raw = _read_head(path)
        except OSError:
            return None
        same = legacy_fingerprint(raw, framing) == landed.fingerprint
        return path if same and status.st_size >= landed.landed_offset else None


def _carry_on(landed: LandedFile, here: LandedFile) -> LandedFile:
    return replace(here, fingerprint=landed.fingerprint, landed_offset=landed.landed_offset)
