import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.otel.land import land_otel
from ingestion.otel.privacy import PrivacyMode
from ingestion.paths import DataLayout
from tests.support.otel_lines import otlp_line as _line


def _landed(layout: DataLayout) -> duckdb.DuckDBPyRelation:
    return duckdb.sql(f"select * from read_parquet('{layout.otel_events}/*/*.parquet')")


def test_lands_every_generated_record_once(small_org, otel_dir: Path, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    summary = land_otel([otel_dir], layout)
    assert summary.records_landed == small_org.events
    assert summary.quarantined_lines == 0
    assert summary.files_seen == small_org.files
    rows, ids, cost = duckdb.sql(
        f"select count(*), count(distinct event_id), sum(cast(cost_usd as decimal(38, 9)))"
        f" from read_parquet('{layout.otel_events}/*/*.parquet')"
    ).fetchall()[0]
    assert rows == ids == small_org.events
    assert str(cost) == small_org.total_cost_usd

    again = land_otel([otel_dir], layout)
    assert again.records_landed == 0
    assert again.bytes_read == 0


@pytest.mark.parametrize("parallel_above_bytes", [1 << 40, 1], ids=["thread", "processes"])
def test_the_summary_accounts_the_cpu_of_every_stage(
    otel_dir: Path, tmp_path: Path, parallel_above_bytes: int
) -> None:
    """The landing benchmark's stage table comes from here: each stage that ran has CPU."""
    summary = land_otel([otel_dir], DataLayout(tmp_path), parallel_above_bytes=parallel_above_bytes)
    stages = summary.stage_cpu_seconds
    expected = {"framing", "parse", "pivot and classification", "metrics"}
    expected |= {"erasure, checks and privacy", "Parquet write", "manifest", "compaction"}
    if parallel_above_bytes == 1:
        expected.add("hand-over to workers, planning")
    assert set(stages) == expected
    assert all(seconds >= 0 for seconds in stages.values())
    assert stages["parse"] > 0 and stages["pivot and classification"] > 0
    assert stages["Parquet write"] > 0


def test_partitions_by_utc_event_date(otel_dir: Path, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    land_otel([otel_dir], layout)
    mismatched = duckdb.sql(
        f"select count(*) from read_parquet('{layout.otel_events}/*/*.parquet',"
        " hive_partitioning = true)"
        " where strftime(event_at at time zone 'UTC', '%Y-%m-%d') != event_date::varchar"
    ).fetchall()[0][0]
    assert mismatched == 0


def test_types_are_coerced_by_key(otel_dir: Path, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    land_otel([otel_dir], layout)
    tool = _landed(layout).filter("event_name = 'tool_result'").limit(1).fetchall()[0]
    columns = _landed(layout).columns
    row = dict(zip(columns, tool, strict=True))
    assert isinstance(row["duration_ms"], int)  # sent as a string
    assert row["success"] in (True, False)  # sent as "true"/"false"
    assert isinstance(row["tool_result_size_bytes"], int)
    assert isinstance(row["workspace_host_paths"], list)
    assert row["service_name"] in ("cowork", "claude-code")
    assert row["scope_name"] == "com.anthropic.claude_code.events"


def test_partial_last_line_waits_for_the_next_run(tmp_path: Path) -> None:
    """Regression guard for F1: the live file ends mid-line while the collector flushes."""
    source = tmp_path / "otel" / "logs.jsonl"
    source.parent.mkdir()
    first = _line("user_prompt", 1_773_100_000_000_000_000, prompt_length={"stringValue": "12"})
    second = _line("api_request", 1_773_100_001_000_000_000, cost_usd={"doubleValue": 0.5})
    source.write_text(first + "\n" + second[:40])
    layout = DataLayout(tmp_path / "data")

    assert land_otel([source.parent], layout).records_landed == 1
    with source.open("a") as handle:
        handle.write(second[40:] + "\n")
    assert land_otel([source.parent], layout).records_landed == 1
    assert land_otel([source.parent], layout).records_landed == 0
    assert _landed(layout).count("*").fetchall()[0][0] == 2


def test_malformed_line_is_quarantined_and_the_rest_land(tmp_path: Path) -> None:
    source = tmp_path / "otel" / "logs.jsonl"
    source.parent.mkdir()
    good = _line("user_prompt", 1_773_100_000_000_000_000)
    source.write_text(
        good
        + "\n"
        + '{"resourceLogs": [ {broken\n'
        + good.replace("user_prompt", "api_request")
        + "\n"
    )
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([source.parent], layout)
    assert summary.records_landed == 2
    assert summary.quarantined_lines == 1
    quarantined = [
        json.loads(line)
        for path in layout.otel_quarantine.glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(quarantined) == 1
    assert quarantined[0]["source_byte_offset"] == len(good) + 1
    assert quarantined[0]["line"].startswith('{"resourceLogs": [ {broken')


def test_client_style_numbers_are_accepted(tmp_path: Path) -> None:
    """The client itself sends 64-bit ints as JSON numbers; the collector as strings."""
    source = tmp_path / "otel" / "logs.jsonl"
    source.parent.mkdir()
    line = _line(
        "api_request",
        1_773_100_000_000_000_000,
        input_tokens={"intValue": 1843},
        cost_usd={"intValue": 2},
    )
    source.write_text(
        line.replace('"timeUnixNano": "1773100000000000000"', '"timeUnixNano": 1773100000000000000')
        + "\n"
    )
    layout = DataLayout(tmp_path / "data")
    assert land_otel([source.parent], layout).records_landed == 1
    input_tokens, cost = _landed(layout).select("input_tokens, cost_usd").fetchall()[0]
    assert (input_tokens, cost) == (1843, 2.0)


def test_rotated_file_is_recognised_and_not_landed_again(tmp_path: Path) -> None:
    """F4: the live file is renamed between two runs; only new lines land."""
    folder = tmp_path / "otel"
    folder.mkdir()
    live = folder / "logs.jsonl"
    live.write_text(_line("user_prompt", 1_773_100_000_000_000_000) + "\n")
    layout = DataLayout(tmp_path / "data")
    assert land_otel([folder], layout).records_landed == 1
    with live.open("a") as handle:
        handle.write(_line("api_request", 1_773_100_002_000_000_000) + "\n")
    live.rename(folder / "logs-2026-03-10T00-00-02.000.jsonl")
    live.write_text(_line("tool_result", 1_773_100_003_000_000_000) + "\n")
    summary = land_otel([folder], layout)
    assert summary.records_landed == 2
    names = sorted(row[0] for row in _landed(layout).select("event_name").fetchall())
    assert names == ["api_request", "tool_result", "user_prompt"]


def test_same_record_delivered_twice_has_the_same_event_id(tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    folder.mkdir()
    line = _line("user_prompt", 1_773_100_000_000_000_000, **{"session.id": {"stringValue": "s1"}})
    other = _line("user_prompt", 1_773_100_000_000_000_000, **{"session.id": {"stringValue": "s2"}})
    (folder / "a.jsonl").write_text(other + "\n" + line + "\n")
    (folder / "b.jsonl").write_text(line + "\n")
    layout = DataLayout(tmp_path / "data")
    land_otel([folder], layout)
    ids = _landed(layout).select("session_id, event_id").fetchall()
    by_session = {}
    for session, event_id in ids:
        by_session.setdefault(session, set()).add(event_id)
    assert len(ids) == 3
    assert len(by_session["s1"]) == 1
    assert by_session["s1"] != by_session["s2"]


def test_unknown_attributes_and_events_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    folder.mkdir()
    line = _line(
        "plugin_loaded",
        1_773_100_000_000_000_000,
        **{"plugin.name": {"stringValue": "xlsx"}, "count": {"intValue": "3"}},
    )
    (folder / "logs.jsonl").write_text(line + "\n")
    layout = DataLayout(tmp_path / "data")
    land_otel([folder], layout)
    name, attributes = _landed(layout).select("event_name, attributes_json").fetchall()[0]
    assert name == "plugin_loaded"
    assert json.loads(attributes) == {"plugin.name": "xlsx", "count": 3}


def test_empty_and_blank_files_are_a_no_op(tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    folder.mkdir()
    (folder / "empty.jsonl").write_text("")
    (folder / "blank.jsonl").write_text("\n  \n\n")
    (folder / "nothing.jsonl").write_text('{}\n{"resourceLogs": []}\n')
    summary = land_otel([folder], DataLayout(tmp_path / "data"))
    assert summary.records_landed == 0
    assert summary.quarantined_lines == 0


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        land_otel([tmp_path / "nope"], DataLayout(tmp_path / "data"))


def test_copy_of_a_whole_file_lands_nothing_new(otel_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "otel"
    shutil.copytree(otel_dir, folder)
    layout = DataLayout(tmp_path / "data")
    first = land_otel([folder], layout).records_landed
    shutil.copy(folder / "logs.jsonl", folder / "logs-copy.jsonl")
    assert land_otel([folder], layout).records_landed == 0
    assert first > 0


def test_a_line_over_16_mib_is_parsed(tmp_path: Path) -> None:
    """F9: one big batch line; no 'straddling object' failure."""
    folder = tmp_path / "otel"
    folder.mkdir()
    big = _line("user_prompt", 1_773_100_000_000_000_000, prompt={"stringValue": "x" * (17 << 20)})
    (folder / "logs.jsonl").write_text(
        _line("api_request", 1_773_100_000_000_000_000) + "\n" + big + "\n"
    )
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([folder], layout, privacy=PrivacyMode.FULL)
    assert summary.records_landed == 2
    assert summary.quarantined_lines == 0
    length = (
        _landed(layout)
        .filter("event_name = 'user_prompt'")
        .select("length(prompt)")
        .fetchall()[0][0]
    )
    assert length == 17 << 20


def test_utc_midnight_partitions_and_future_clock_skew(tmp_path: Path) -> None:
    """F14: partition by UTC event time; DST plays no part; far-future times are flagged."""
    folder = tmp_path / "otel"
    folder.mkdir()
    before_midnight = 1_774_137_599_999_000_000  # 2026-03-21T23:59:59.999Z
    after_midnight = 1_774_137_600_000_000_000  # 2026-03-22T00:00:00.000Z
    future = int((datetime.now(UTC) + timedelta(days=2)).timestamp() * 1e9)
    lines = [_line("user_prompt", t) for t in (before_midnight, after_midnight, future)]
    (folder / "logs.jsonl").write_text("\n".join(lines) + "\n")
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([folder], layout)
    assert summary.future_records == 1
    partitions = sorted(p.name for p in layout.otel_events.iterdir())
    assert partitions[:2] == ["event_date=2026-03-21", "event_date=2026-03-22"]


def test_a_line_split_by_rotation_is_quarantined_and_counted(tmp_path: Path) -> None:
    """F3: the rotated file ends mid-line and the new file starts with the rest."""
    folder = tmp_path / "otel"
    folder.mkdir()
    first = _line("user_prompt", 1_773_100_000_000_000_000)
    split = _line("api_request", 1_773_100_001_000_000_000)
    last = _line("tool_result", 1_773_100_002_000_000_000)
    (folder / "logs-2026-03-10T00-00-01.000.jsonl").write_text(first + "\n" + split[:50])
    (folder / "logs.jsonl").write_text(split[50:] + "\n" + last + "\n")
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([folder], layout)
    assert summary.records_landed == 2
    assert summary.quarantined_lines == 2
    again = land_otel([folder], layout)
    assert (again.records_landed, again.quarantined_lines) == (0, 0)


def test_compaction_merges_small_files_and_keeps_every_row(small_org, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    land_otel([Path(small_org.otel_dir)], layout, compact_above=1000)
    before = sorted(_landed(layout).select("event_id").fetchall())
    files_before = len(list(layout.otel_events.rglob("*.parquet")))
    summary = land_otel([Path(small_org.otel_dir)], layout, compact_above=1)
    assert summary.compacted_partitions > 0
    partitions = [p for p in layout.otel_events.iterdir() if p.is_dir()]
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in partitions)
    assert len(list(layout.otel_events.rglob("*.parquet"))) < files_before
    assert sorted(_landed(layout).select("event_id").fetchall()) == before


def test_cli_summary_reports_what_happened(otel_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cowork_analytics.cli import app

    result = CliRunner().invoke(
        app,
        [
            "ingest",
            "otel",
            "--data-dir",
            str(tmp_path),
            "--input",
            str(otel_dir),
            "--privacy",
            "strict",
        ],
        env={"COLUMNS": "200", "COWORK_PII_PEPPER": "cli-test-pepper-0123456789"},
    )
    assert result.exit_code == 0, result.output
    for label in (
        "files seen",
        "records landed",
        "quarantined lines",
        "duplicate files skipped",
        "bytes read",
        "events per second",
    ):
        assert label in result.output
    assert "@" not in result.output  # no e-mail addresses or content in the console
