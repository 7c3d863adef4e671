"""One bad line never stops the landing, never lands something a build cannot read.

Each case is a defect found by probing the landing with mutated real client lines; each
asserts the invariant: every line is landed or quarantined (with where and why), and what
landed is typed, finite, non-negative where it must be, and valid UTF-8.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.otel.land import LandingSummary, land_otel
from ingestion.otel.privacy import PrivacyMode
from ingestion.paths import DataLayout
from tests.support.otel_lines import otlp_line

NOW_NS = time.time_ns() - 3600 * 10**9


def _land(tmp_path: Path, content: bytes, name: str = "logs.jsonl", **options) -> LandingSummary:
    folder = tmp_path / "otel"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    return land_otel([folder], DataLayout(tmp_path / "data"), **options)


def _events(tmp_path: Path, columns: str = "*") -> list[dict]:
    relation = duckdb.sql(
        f"select {columns} from read_parquet('{tmp_path}/data/landing/otel/events/*/*.parquet')"
    )
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _quarantined_lines(tmp_path: Path) -> list[dict]:
    folder = DataLayout(tmp_path / "data").otel_quarantine
    return [
        json.loads(line)
        for path in sorted(folder.glob("lines-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _api_request(cost: dict, index: int = 0, **attributes: dict) -> str:
    return otlp_line("api_request", NOW_NS + index, cost_usd=cost, **attributes)


def _every_line_accounted_for(tmp_path: Path, summary: LandingSummary, lines: int) -> None:
    """Lines in = lines that landed a record + lines in the quarantine files."""
    assert summary.lines == lines
    landed = {row["source_byte_offset"] for row in _events(tmp_path, "source_byte_offset")}
    quarantined = _quarantined_lines(tmp_path)
    assert len(quarantined) == summary.quarantined_lines
    assert len(landed) + len(quarantined) == lines


def test_a_null_line_first_in_a_block_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    # Regression: pyarrow's reader crashed the process (SIGSEGV) on a leading `null` line,
    # and every rerun crashed the same way. Run in a child so a crash fails this test only.
    folder = tmp_path / "otel"
    folder.mkdir()
    (folder / "logs.jsonl").write_text("null\n" + _api_request({"doubleValue": 0.5}) + "\n")
    script = (
        "import sys; from pathlib import Path; from ingestion.otel.land import land_otel;"
        "from ingestion.paths import DataLayout;"
        "s = land_otel([Path(sys.argv[1])], DataLayout(Path(sys.argv[2])));"
        "print(s.lines, s.records_landed, s.quarantined_lines)"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-500:]
    assert child.stdout.split() == ["2", "1", "1"]
    assert _quarantined_lines(tmp_path)[0]["error"].endswith("line is not a JSON object")


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("null", id="null"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('"text"', id="string"),
        pytest.param("{} null", id="object then null"),
        pytest.param('{"resourceLogs": []} {"resourceLogs": []}', id="two objects"),
    ],
)
def test_lines_that_are_not_one_object_are_quarantined(tmp_path: Path, line: str) -> None:
    # Regression: `null` after good lines was counted as a line but neither landed nor
    # quarantined; two values on one line shifted the offsets of the lines after it.
    good = _api_request({"doubleValue": 0.5})
    later = _api_request({"doubleValue": 0.25}, index=1)
    summary = _land(tmp_path, f"{good}\n{line}\n{later}\n".encode())
    _every_line_accounted_for(tmp_path, summary, 3)
    assert (summary.records_landed, summary.quarantined_lines) == (2, 1)
    offsets = sorted(row["source_byte_offset"] for row in _events(tmp_path))
    assert offsets == [0, len(good) + len(line) + 2]


def test_invalid_utf8_is_quarantined_and_what_landed_stays_readable(tmp_path: Path) -> None:
    # Regression: a string value with invalid UTF-8 landed as is; DuckDB then refused the
    # Parquet file ("not valid UTF8"), and every later build failed.
    bad = _api_request({"doubleValue": 0.5}, model={"stringValue": "MODEL"}).encode()
    bad = bad.replace(b"MODEL", b"claude-\xff\xfe")
    good = _api_request({"doubleValue": 0.25}, index=1).encode()
    summary = _land(tmp_path, good + b"\n" + bad + b"\n" + good.replace(b"0.25", b"0.5") + b"\n")
    _every_line_accounted_for(tmp_path, summary, 3)
    assert summary.quarantined_lines == 1
    assert len(_events(tmp_path, "model")) == 2  # DuckDB reads every landed file
    [quarantined] = _quarantined_lines(tmp_path)
    assert quarantined["error"].startswith("UnicodeDecodeError")
    assert quarantined["source_byte_offset"] == len(good) + 1


def test_a_lone_surrogate_escape_is_quarantined(tmp_path: Path) -> None:
    line = _api_request({"doubleValue": 0.5}, model={"stringValue": "SURROGATE"})
    summary = _land(tmp_path, line.replace("SURROGATE", "\\ud800").encode() + b"\n")
    assert (summary.records_landed, summary.quarantined_lines) == (0, 1)


@pytest.mark.parametrize(
    ("cost", "raw"),
    [
        pytest.param('{"stringValue": "1e400"}', "1e400", id="1e400 as a string"),
        pytest.param('{"doubleValue": 1e400}', "inf", id="1e400 as a number"),
        pytest.param('{"doubleValue": "Infinity"}', "Infinity", id="protobuf JSON Infinity"),
        pytest.param('{"doubleValue": "-Infinity"}', "-Infinity", id="protobuf JSON -Infinity"),
        pytest.param('{"doubleValue": "NaN"}', "NaN", id="protobuf JSON NaN"),
        pytest.param('{"doubleValue": -1000.5}', "-1000.5", id="negative"),
        pytest.param('{"stringValue": "$0.02"}', "$0.02", id="currency text"),
        pytest.param('{"intValue": "-3"}', "-3", id="negative int"),
        pytest.param('{"arrayValue": {"values": []}}', "(a list or map)", id="a list"),
    ],
)
def test_impossible_costs_land_as_null_with_the_raw_value_kept(
    tmp_path: Path, cost: str, raw: str
) -> None:
    # Regression: non-finite costs landed and failed every build casting them to a decimal;
    # a negative cost reached fct_cost_daily; "$0.02" became null, uncounted and lost.
    line = _api_request({"doubleValue": 12345.0}).replace('{"doubleValue": 12345.0}', cost)
    summary = _land(tmp_path, line.encode() + b"\n")
    assert (summary.records_landed, summary.quarantined_lines) == (1, 0)
    assert summary.records_with_rejected_values == 1
    [row] = _events(tmp_path, "cost_usd, rejected_values_json")
    assert row["cost_usd"] is None
    assert json.loads(row["rejected_values_json"]) == {"cost_usd": raw}


def test_negative_token_counts_are_rejected_and_status_undefined_is_not(tmp_path: Path) -> None:
    line = _api_request(
        {"doubleValue": 0.5},
        input_tokens={"intValue": "-40"},
        output_tokens={"stringValue": "12"},
        status_code={"stringValue": "undefined"},
    )
    summary = _land(tmp_path, line.encode() + b"\n")
    [row] = _events(tmp_path, "input_tokens, output_tokens, status_code, rejected_values_json")
    assert (row["input_tokens"], row["output_tokens"], row["status_code"]) == (None, 12, None)
    assert json.loads(row["rejected_values_json"]) == {"input_tokens": "-40"}
    assert summary.records_with_rejected_values == 1


def test_a_time_in_2262_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    # Regression: a timeUnixNano of 2**63-1 landed in the year 2262 and moved every team's
    # forecast "as of" date there.
    lines = [
        otlp_line("api_request", 2**63 - 1),
        otlp_line("api_request", 86_400 * 10**9),  # a clock reset to 2 January 1970
        otlp_line("api_request", NOW_NS),
    ]
    summary = _land(tmp_path, "\n".join(lines).encode() + b"\n")
    assert (summary.records_landed, summary.quarantined_records) == (1, 2)
    quarantine = DataLayout(tmp_path / "data").otel_quarantine
    reasons = duckdb.sql(
        f"select quarantine_reason from read_parquet('{quarantine}/records-*.parquet')"
    ).fetchall()
    assert [reason for (reason,) in reasons] == [
        "time outside 2020-01-01 .. landing time + 2 days"
    ] * 2


def test_values_nested_below_the_first_level_are_kept_as_text(tmp_path: Path) -> None:
    # Regression: a kvlist inside a kvlist (or an array inside an array) read as all-null,
    # uncounted; two records differing only there even shared an event_id.
    def nested(leaf: str) -> dict:
        inner = {"kvlistValue": {"values": [{"key": "b", "value": {"stringValue": leaf}}]}}
        return {"kvlistValue": {"values": [{"key": "a", "value": inner}]}}

    lines = [
        _api_request({"doubleValue": 0.5}, extra=nested("one")),
        _api_request({"doubleValue": 0.5}, extra=nested("two")),
        _api_request(
            {"doubleValue": 0.5},
            index=1,
            grid={"arrayValue": {"values": [{"arrayValue": {"values": [{"intValue": "1"}]}}]}},
        ),
    ]
    summary = _land(tmp_path, "\n".join(lines).encode() + b"\n")
    assert (summary.records_landed, summary.values_kept_as_text) == (3, 3)
    rows = _events(tmp_path, "event_id, attributes_json")
    assert len({row["event_id"] for row in rows}) == 3
    texts = sorted(row["attributes_json"] for row in rows)
    assert '{\\"b\\": \\"one\\"}' in texts[0] or '{\\"b\\": \\"one\\"}' in texts[1]
    assert any('[\\"1\\"]' in text or '[\\"1\\"]' in text for text in texts)


def test_proto3_json_spellings_are_read(tmp_path: Path) -> None:
    """proto3 JSON may write a double as text and an enum by name: the line still lands."""
    line = _api_request({"doubleValue": "0.75"}).replace(
        '"timeUnixNano"', '"severityNumber": "SEVERITY_NUMBER_INFO", "timeUnixNano"'
    )
    summary = _land(tmp_path, line.encode() + b"\n")
    assert (summary.records_landed, summary.quarantined_lines) == (1, 0)
    assert _events(tmp_path, "cost_usd") == [{"cost_usd": 0.75}]


def test_a_first_line_fragment_longer_than_4_kb_quarantines_only_the_fragment(
    tmp_path: Path,
) -> None:
    # Regression: framing detection read 4,096 bytes; a live file starting with the rest of
    # a line cut by rotation (real lines are 2-14 KB) was left wholly unlanded.
    long = _api_request({"doubleValue": 0.5}, prompt={"stringValue": "p" * 9000})
    good = _api_request({"doubleValue": 0.25}, index=1)
    summary = _land(tmp_path, (long[6000:] + "\n" + good + "\n").encode())
    assert summary.unsupported_files == []
    assert (summary.records_landed, summary.quarantined_lines) == (1, 1)


def test_a_byte_order_mark_before_a_long_first_line_quarantines_the_mark_only(
    tmp_path: Path,
) -> None:
    long = _api_request({"doubleValue": 0.5}, prompt={"stringValue": "p" * 9000})
    summary = _land(tmp_path, b"\xef\xbb\xbf" + long.encode() + b"\n")
    assert summary.unsupported_files == []
    assert (summary.records_landed, summary.quarantined_lines) == (1, 1)
    [mark] = _quarantined_lines(tmp_path)
    assert (mark["source_byte_offset"], mark["bytes"]) == (0, 3)
    assert _events(tmp_path, "source_byte_offset") == [{"source_byte_offset": 3}]


def test_an_unreadable_file_is_named_and_counted(tmp_path: Path, monkeypatch) -> None:
    # Regression: a file the landing could not open was skipped without a word or a count.
    # (Tests may run as root, which reads anything: the refusal is simulated.)
    folder = tmp_path / "otel"
    folder.mkdir()
    (folder / "locked.jsonl").write_text(_api_request({"doubleValue": 0.5}) + "\n")
    (folder / "open.jsonl").write_text(_api_request({"doubleValue": 0.25}, index=1) + "\n")
    real_open = Path.open

    def refuse(path: Path, *args, **kwargs):
        if path.name == "locked.jsonl":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    summary = land_otel([folder], DataLayout(tmp_path / "data"))
    assert summary.unreadable_files == [str(folder / "locked.jsonl")]
    assert summary.as_dict()["unreadable_files"] == 1
    assert summary.records_landed == 1


def test_a_non_finite_metric_value_lands_as_null_with_the_raw_value_kept(tmp_path: Path) -> None:
    point = {"timeUnixNano": str(NOW_NS), "asDouble": "NaN"}
    line = json.dumps(
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {"name": "claude_code.cost.usage", "sum": {"dataPoints": [point]}}
                            ]
                        }
                    ]
                }
            ]
        }
    )
    summary = _land(tmp_path, line.encode() + b"\n")
    assert (summary.metric_points_landed, summary.records_with_rejected_values) == (1, 1)
    metrics = DataLayout(tmp_path / "data").otel_metrics
    value, rejected = duckdb.sql(
        f"select value, rejected_values_json from read_parquet('{metrics}/*/*.parquet')"
    ).fetchall()[0]
    assert value is None
    assert json.loads(rejected) == {"value": "nan"}


def test_strict_quarantined_records_hold_no_content_text(tmp_path: Path) -> None:
    line = otlp_line("user_prompt", 2**63 - 1, prompt={"stringValue": "SECRET-PROMPT"})
    summary = _land(tmp_path, line.encode() + b"\n", privacy=PrivacyMode.STRICT, pepper=b"p" * 32)
    assert summary.quarantined_records == 1
    quarantine = DataLayout(tmp_path / "data").otel_quarantine
    assert not any(b"SECRET-PROMPT" in path.read_bytes() for path in quarantine.iterdir())
