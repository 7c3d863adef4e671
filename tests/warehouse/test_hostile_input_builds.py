"""Nothing that landed can break a build: hostile lines and older, unchecked landings.

Real export lines of the generated organisation are mutated into each hostile case found
by probing (non-finite, negative and textual costs, a `null` line, invalid UTF-8, a lone
surrogate, values nested too deep, a time in 2262, a byte-order mark), landed, and built.
A file landed before the landing rejected impossible amounts (infinite, NaN and negative
costs and token counts) sits beside them. The build passes and no mart holds a negative
or non-finite cost.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.generate import GenerationResult
from warehouse.build import build_warehouse

# Mart columns that are differences or changes, negative by design.
SIGNED = ("change", "delta", "difference", "excess", "savings_vs")


def _real_api_request(logs: Path) -> dict:
    """The first export line holding an api_request, cut to that one record."""
    for line in logs.read_text().splitlines():
        document = json.loads(line)
        for resource in document.get("resourceLogs", []):
            for scope in resource["scopeLogs"]:
                for record in scope["logRecords"]:
                    if record["body"]["stringValue"] == "claude_code.api_request":
                        scope["logRecords"] = [record]
                        resource["scopeLogs"] = [scope]
                        return {"resourceLogs": [resource]}
    raise AssertionError("no api_request in the generated file")


def _with_cost(line: dict, cost: dict, marker: str) -> str:
    """The line with another cost value and a request id that makes the record new."""
    record = line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    attributes = []
    for pair in record["attributes"]:
        if pair["key"] == "cost_usd":
            pair = {"key": "cost_usd", "value": cost}
        elif pair["key"] == "request_id":
            pair = {"key": "request_id", "value": {"stringValue": f"req_{marker}"}}
        attributes.append(pair)
    mutated = json.loads(json.dumps(line))
    mutated["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"] = attributes
    return json.dumps(mutated)


def _hostile_file(line: dict) -> bytes:
    costs = {
        "inf-text": {"stringValue": "1e400"},
        "inf-number": {"doubleValue": 1e400},
        "infinity": {"doubleValue": "Infinity"},
        "nan": {"doubleValue": "NaN"},
        "negative": {"doubleValue": -1001.92},
        "dollars": {"stringValue": "$0.02"},
        "nested": {"kvlistValue": {"values": [{"key": "a", "value": {"arrayValue": {}}}]}},
    }
    lines = [_with_cost(line, cost, marker).encode() for marker, cost in costs.items()]
    far_future = json.loads(_with_cost(line, {"doubleValue": 0.5}, "2262"))
    record = far_future["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["timeUnixNano"] = record["observedTimeUnixNano"] = str(2**63 - 1)
    lines.append(json.dumps(far_future).encode())
    lines.append(b"null")
    lines.append(_with_cost(line, {"doubleValue": 0.5}, "utf8").encode().replace(b"req_", b"\xff"))
    surrogate = _with_cost(line, {"doubleValue": 0.5}, "surrogate").encode()
    lines.append(surrogate.replace(b"req_surrogate", b"req_\\ud800"))
    return b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n"


def _unchecked_landing(layout: DataLayout) -> None:
    """A landed file from before the landing rejected impossible amounts."""
    landed = sorted(layout.otel_events.glob("*/*.parquet"))[0]
    old = landed.with_name("part-unchecked.parquet")
    with duckdb.connect() as connection:
        connection.execute(
            f"""
            copy (
                select * replace (
                    md5(event_id || 'unchecked') as event_id,
                    case row_number() over () % 3
                        when 0 then 'inf'::double when 1 then 'nan'::double else -5.0
                    end as cost_usd,
                    -100 as input_tokens
                )
                from read_parquet('{landed}')
                where event_name = 'api_request'
                limit 6
            ) to '{old}' (format parquet)
            """
        )


def test_hostile_lines_and_unchecked_landings_build_with_sane_costs(
    small_org: GenerationResult, tmp_path: Path
) -> None:
    otel = Path(small_org.otel_dir)
    inputs = tmp_path / "otel"
    inputs.mkdir()
    first = sorted(otel.glob("logs-*.jsonl"))[0]
    shutil.copy(first, inputs / first.name)
    (inputs / "hostile.jsonl").write_bytes(_hostile_file(_real_api_request(first)))
    layout = DataLayout(tmp_path / "data")

    summary = land_otel([inputs], layout)
    assert summary.quarantined_lines == 4  # the mark, null, invalid UTF-8, lone surrogate
    assert summary.quarantined_records == 1  # 2262
    assert summary.records_with_rejected_values == 7  # every impossible or textual cost
    _unchecked_landing(layout)

    result = build_warehouse(layout)
    assert result.success, result.failures or result.error

    with duckdb.connect(str(layout.serving_database), read_only=True) as connection:
        columns = connection.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'marts' and column_name like '%cost%'"
            " and (data_type like 'DECIMAL%' or data_type = 'DOUBLE')"
        ).fetchall()
        assert len(columns) > 5
        for table, column, data_type in columns:
            if any(word in column for word in SIGNED):
                continue
            insane = f'"{column}" < 0'
            if data_type == "DOUBLE":
                insane += f' or not isfinite("{column}")'
            bad = connection.execute(
                f'select count(*) from marts."{table}" where {insane}'
            ).fetchall()[0][0]
            assert bad == 0, f"{table}.{column} has {bad} negative or non-finite values"
