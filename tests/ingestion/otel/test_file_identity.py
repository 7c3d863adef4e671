"""File identity: every file lands exactly once, whatever it shares with another.

A file is known by its first whole message, its device and inode, and the bytes just
before its landed offset (ingestion/otel/identity.py). Each case names the situation a
first-line fingerprint got wrong or could get wrong, in every framing the exporter writes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ingestion.manifest import MIGRATIONS, Manifest
from ingestion.otel.land import LandingSummary, land_otel
from ingestion.paths import DataLayout
from simulation.collector import FileFormat
from tests.support.otel_lines import otlp_line

FORMATS = {
    "json": FileFormat(),
    "proto": FileFormat(encoding="proto"),
    "proto+zstd": FileFormat(encoding="proto", compression="zstd"),
    "native zstd json": FileFormat(native_zstd=True),
}
START_NS = 1_773_100_000_000_000_000


def _message(name: str, second: int) -> str:
    return otlp_line(name, START_NS + second * 1_000_000_000, prompt_length={"stringValue": "7"})


def _framed(file_format: FileFormat, *lines: str) -> bytes:
    return b"".join(file_format.frame(Parse(line, ExportLogsServiceRequest())) for line in lines)


def _land(folder: Path, layout: DataLayout) -> LandingSummary:
    summary = land_otel([folder], layout)
    assert summary.quarantined_lines == 0
    return summary


def _landed_names(layout: DataLayout) -> list[str]:
    rows = duckdb.sql(
        f"select event_name from read_parquet('{layout.otel_events}/*/*.parquet')"
        " order by event_name"
    ).fetchall()
    return [name for (name,) in rows]


@pytest.fixture(params=list(FORMATS.values()), ids=list(FORMATS))
def file_format(request: pytest.FixtureRequest) -> FileFormat:
    return request.param


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "otel"
    path.mkdir()
    return path


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    return DataLayout(tmp_path / "data")


def test_a_file_sharing_its_first_message_with_a_landed_one_lands_whole(
    file_format: FileFormat, folder: Path, layout: DataLayout
) -> None:
    """A restarted collector resends the batch it last wrote: two files, one first message."""
    first, resent = _message("user_prompt", 0), _message("api_request", 1)
    (folder / "logs-2026-03-10T00-00-01.000.jsonl").write_bytes(_framed(file_format, first, resent))
    assert _land(folder, layout).records_landed == 2

    (folder / "logs.jsonl").write_bytes(_framed(file_format, first, _message("tool_result", 2)))
    assert _land(folder, layout).records_landed == 2
    assert _land(folder, layout).records_landed == 0


def test_a_live_file_landed_only_as_far_as_a_shared_first_message_is_not_a_copy(
    file_format: FileFormat, folder: Path, layout: DataLayout
) -> None:
    """The landed part of one file is all the other file holds so far, yet they differ."""
    shared = _message("user_prompt", 0)
    one = folder / "one" / "logs.jsonl"
    one.parent.mkdir()
    one.write_bytes(_framed(file_format, shared))
    assert _land(folder, layout).records_landed == 1

    other = folder / "other" / "logs.jsonl"
    other.parent.mkdir()
    other.write_bytes(_framed(file_format, shared, _message("api_request", 1)))
    with one.open("ab") as handle:
        handle.write(_framed(file_format, _message("tool_result", 2)))
    assert _land(folder, layout).records_landed == 3
    assert _land(folder, layout).records_landed == 0
    names = _landed_names(layout)
    assert names == ["api_request", "tool_result", "user_prompt", "user_prompt"]


def test_a_truncated_and_rewritten_file_lands_its_new_bytes(
    file_format: FileFormat, folder: Path, layout: DataLayout
) -> None:
    """Same path, same inode, same first message, shorter and then longer than before."""
    first = _message("user_prompt", 0)
    live = folder / "logs.jsonl"
    live.write_bytes(
        _framed(file_format, first, _message("api_request", 1), _message("api_request", 2))
    )
    inode = live.stat().st_ino
    assert _land(folder, layout).records_landed == 3

    with live.open("r+b") as handle:  # truncate in place: the inode stays
        handle.truncate(0)
        handle.write(_framed(file_format, first, _message("tool_result", 3)))
    assert live.stat().st_ino == inode
    assert _land(folder, layout).records_landed == 2
    with live.open("ab") as handle:
        handle.write(_framed(file_format, _message("tool_decision", 4), _message("tool_result", 5)))
    assert _land(folder, layout).records_landed == 2
    assert _land(folder, layout).records_landed == 0


def test_copies_and_hard_links_land_nothing_and_a_moved_file_carries_on(
    file_format: FileFormat, folder: Path, layout: DataLayout
) -> None:
    live = folder / "logs.jsonl"
    live.write_bytes(_framed(file_format, _message("user_prompt", 0), _message("api_request", 1)))
    assert _land(folder, layout).records_landed == 2

    shutil.copy(live, folder / "backup.jsonl")  # a new inode, the same bytes
    os.link(live, folder / "link.jsonl")  # the same inode under a second name
    with live.open("ab") as handle:  # the original grows after the copy was taken
        handle.write(_framed(file_format, _message("tool_result", 2)))
    summary = _land(folder, layout)
    assert (summary.records_landed, summary.duplicate_files_skipped) == (1, 2)
    again = _land(folder, layout)
    assert (again.records_landed, again.duplicate_files_skipped) == (0, 2)

    # Moved away (a new inode: another filesystem, a restore) and gone from where it was.
    (folder / "link.jsonl").unlink()
    (folder / "backup.jsonl").unlink()
    moved = folder / "archive" / "logs.jsonl"
    moved.parent.mkdir()
    shutil.copy(live, moved)
    live.unlink()
    with moved.open("ab") as handle:
        handle.write(_framed(file_format, _message("tool_decision", 3)))
    assert _land(folder, layout).records_landed == 1
    assert _landed_names(layout) == ["api_request", "tool_decision", "tool_result", "user_prompt"]


def test_a_copy_taken_before_both_are_landed_lands_once(folder: Path, layout: DataLayout) -> None:
    live = folder / "logs.jsonl"
    live.write_text(_message("user_prompt", 0) + "\n" + _message("api_request", 1) + "\n")
    shutil.copy(live, folder / "logs.jsonl.bak")
    summary = _land(folder, layout)
    assert (summary.records_landed, summary.duplicate_files_skipped) == (2, 1)


def test_rotation_between_a_message_and_its_newline_loses_nothing(
    folder: Path, layout: DataLayout
) -> None:
    """The exporter writes a message, then its newline: a rotation between the two leaves
    a rotated file ending in a whole message without its newline (it lands, it is not
    quarantined) and a live file starting with a bare newline, rotation after rotation."""
    messages = [_message(name, second) for second, name in enumerate("abcdefg")]
    live = folder / "logs.jsonl"
    live.write_text(messages[0] + "\n" + messages[1])
    assert _land(folder, layout).records_landed == 1  # the second waits for its newline

    for rotation, (complete, pending) in enumerate([(2, 3), (4, 5)], start=1):
        live.rename(folder / f"logs-2026-03-10T00-00-0{rotation}.000-size.jsonl")
        live.write_text("\n" + messages[complete] + "\n" + messages[pending])
        # The rotated file's last message, and the new file's first.
        assert _land(folder, layout).records_landed == 2
    live.rename(folder / "logs-2026-03-10T00-00-03.000-size.jsonl")
    live.write_text("\n" + messages[6] + "\n")
    assert _land(folder, layout).records_landed == 2
    assert _land(folder, layout).records_landed == 0
    assert _landed_names(layout) == list("abcdefg")


def _release_one_store(path: Path, rows: list[tuple[str, str, int]]) -> None:
    """A manifest store as release 1 left it: files known by their first line's hash."""
    with sqlite3.connect(path) as connection:
        for statement in MIGRATIONS[0]:
            connection.execute(statement)
        connection.executemany(
            "insert into otel_files values (?, ?, ?, 1, 0, '2026-01-01', '2026-01-01')", rows
        )
        connection.execute("pragma user_version = 1")


def test_files_landed_by_release_one_carry_on_where_they_were(
    folder: Path, layout: DataLayout
) -> None:
    """Upgrade: a row keyed by the old first-line fingerprint is found, carried on and
    given a head, device and inode; even the one hash every file starting with a bare
    newline shared goes to the file at its path, and the others land whole."""
    first, second = _message("user_prompt", 0) + "\n", _message("api_request", 1) + "\n"
    plain = folder / "logs-2026-03-10T00-00-01.000.jsonl"
    plain.write_text(first + second)
    live = folder / "logs.jsonl"
    live.write_text("\n" + _message("tool_result", 2) + "\n" + _message("tool_result", 3) + "\n")
    other = folder / "logs-2026-03-10T00-00-02.000.jsonl"
    other.write_text("\n" + _message("tool_decision", 4) + "\n")
    layout.manifest.parent.mkdir(parents=True)
    blank_line = hashlib.sha256(b"\n").hexdigest()
    landed_of_live = 1 + len(_message("tool_result", 2)) + 1
    _release_one_store(
        layout.manifest,
        [
            (hashlib.sha256(first.encode()).hexdigest(), str(plain), len(first)),
            (blank_line, str(live), landed_of_live),
        ],
    )

    summary = _land(folder, layout)
    assert summary.records_landed == 3  # the plain file's second, the live file's last, other
    assert _land(folder, layout).records_landed == 0
    manifest = Manifest(layout.manifest)
    try:
        adopted = manifest.file(blank_line)
        assert adopted is not None and adopted.last_path == str(live)
        assert (adopted.device, adopted.inode) == (live.stat().st_dev, live.stat().st_ino)
    finally:
        manifest.close()
