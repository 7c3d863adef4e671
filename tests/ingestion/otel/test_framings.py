"""Every framing the collector writes lands as the same rows as plain JSON lines."""

from pathlib import Path

import duckdb
import pytest

from ingestion.otel.framing import Framing, detect_framing, is_rotated
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.collector import FileFormat
from simulation.generate import generate
from tests.support.organisations import SMALL_ORG

PROVENANCE = "source_file_fingerprint, source_byte_offset, landed_at"
FORMATS = {
    "json": FileFormat(),
    "proto": FileFormat(encoding="proto"),
    "json+zstd": FileFormat(compression="zstd"),
    "proto+zstd": FileFormat(encoding="proto", compression="zstd"),
    "native zstd json": FileFormat(native_zstd=True),
    "native zstd proto": FileFormat(encoding="proto", native_zstd=True),
}
EXPECTED_FRAMING = {
    "json": Framing.JSON_LINES,
    "proto": Framing.LENGTH_PREFIXED,
    "json+zstd": Framing.LENGTH_PREFIXED,
    "proto+zstd": Framing.LENGTH_PREFIXED,
    "native zstd json": Framing.ZSTD_STREAM,
    "native zstd proto": Framing.ZSTD_STREAM,
}


def _rows(layout: DataLayout, dataset: str, order: str) -> list[tuple]:
    return duckdb.sql(
        f"select * exclude ({PROVENANCE}) from read_parquet('{layout.root}/landing/otel/{dataset}/*/*.parquet')"
        f" order by {order}"
    ).fetchall()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    generated = generate(tmp_path_factory.mktemp("json"), rotate_megabytes=1.0, **SMALL_ORG)
    layout = DataLayout(tmp_path_factory.mktemp("json-landed"))
    land_otel([Path(generated.otel_dir)], layout)
    return layout


@pytest.mark.parametrize("name", list(FORMATS)[1:])
def test_framing_round_trips_to_identical_rows(
    name: str, reference: DataLayout, tmp_path: Path
) -> None:
    generated = generate(
        tmp_path / "gen", rotate_megabytes=1.0, file_format=FORMATS[name], **SMALL_ORG
    )
    otel = Path(generated.otel_dir)
    for path in otel.iterdir():
        assert detect_framing(path.read_bytes()[:4096]) is EXPECTED_FRAMING[name], path
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([otel], layout)
    assert summary.records_landed == generated.events
    assert summary.quarantined_lines == 0
    assert summary.metric_points_landed > 0
    assert _rows(layout, "events", "event_id") == _rows(reference, "events", "event_id")
    assert _rows(layout, "metrics", "metric_point_id") == _rows(
        reference, "metrics", "metric_point_id"
    )
    assert land_otel([otel], layout).records_landed == 0  # idempotent for every framing


def test_live_framed_file_waits_for_a_partial_message(tmp_path: Path) -> None:
    """F6 (c): a stream truncated mid-frame lands its complete frames; the tail waits."""
    generated = generate(
        tmp_path / "gen", rotate_megabytes=1000, file_format=FORMATS["proto+zstd"], **SMALL_ORG
    )
    source = Path(generated.otel_dir) / "logs.pb"
    whole = source.read_bytes()
    source.write_bytes(whole[: len(whole) // 2])
    layout = DataLayout(tmp_path / "data")
    first = land_otel([source], layout)
    assert 0 < first.records_landed < generated.events
    assert first.quarantined_lines == 0
    source.write_bytes(whole)
    second = land_otel([source], layout)
    assert first.records_landed + second.records_landed == generated.events


def test_truncated_rotated_zstd_stream_is_quarantined(tmp_path: Path) -> None:
    generated = generate(
        tmp_path / "gen",
        rotate_megabytes=1000,
        file_format=FORMATS["native zstd json"],
        **SMALL_ORG,
    )
    source = Path(generated.otel_dir) / "logs.jsonl.zst"
    rotated = source.with_name("logs-2026-03-10T00-00-00.000.jsonl.zst")
    whole = source.read_bytes()
    rotated.write_bytes(whole[:-7])
    source.unlink()
    (Path(generated.otel_dir) / "metrics.jsonl.zst").unlink()
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([rotated], layout)
    assert summary.quarantined_lines == 1
    assert 0 < summary.records_landed < generated.events
    assert land_otel([rotated], layout).quarantined_lines == 0  # counted once


def test_unknown_format_is_reported_not_parsed(tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello, this is not telemetry\n")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    summary = land_otel([folder], DataLayout(tmp_path / "data"))
    assert sorted(Path(p).name for p in summary.unsupported_files) == ["image.png", "notes.txt"]
    assert summary.records_landed == 0


@pytest.mark.parametrize("name", ["proto+zstd", "native zstd json"])
def test_a_corrupt_frame_is_quarantined_and_the_rest_lands(name: str, tmp_path: Path) -> None:
    generated = generate(
        tmp_path / "gen", rotate_megabytes=1000, file_format=FORMATS[name], **SMALL_ORG
    )
    otel = Path(generated.otel_dir)
    logs = next(otel.glob("logs*"))
    (otel / next(p.name for p in otel.iterdir() if p.name.startswith("metrics"))).unlink()
    data = bytearray(logs.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # zero a stretch inside some frame
    rotated = logs.with_name("logs-2026-03-10T00-00-00.000" + "".join(logs.suffixes))
    rotated.write_bytes(bytes(data))
    logs.unlink()
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([rotated], layout)
    assert summary.quarantined_lines >= 1
    assert generated.events * 0.8 < summary.records_landed < generated.events
    quarantined = list(layout.otel_quarantine.glob("*.jsonl"))
    assert quarantined


@pytest.mark.parametrize(
    ("name", "rotated"),
    [
        ("logs.jsonl", False),
        ("logs.pb", False),
        ("metrics.jsonl", False),
        ("logs-2026-03-10T08-00-00.000.jsonl", True),  # lumberjack
        ("logs-2026-12-07T17-10-50.688-size.jsonl", True),  # timberjack, rotated for size
        ("logs-2026-12-07T17-10-50.688-time.jsonl", True),  # timberjack, rotated on time
        ("data-2022-09-14T05-02-14.173.json", True),  # the exporter's documented example
        ("logs-2026-12-07.jsonl", False),  # a date is not a rotation time
    ],
)
def test_rotated_names_are_recognised(name: str, rotated: bool) -> None:
    """A rotated file is final: its tail is judged whole or truncated, never waited for."""
    assert is_rotated(Path(name)) is rotated
