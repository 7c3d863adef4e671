"""Property tests: real export lines, mutated as a hostile or broken client would, landed.

Seeds are lines the generator writes the way the collector does (logs and metrics). Each
example mutates a few of them (types, encodings, nesting, numbers, nulls, truncation,
stray bytes) and lands the file. Invariants:
- the landing never crashes;
- every non-blank line is landed or quarantined (and each quarantined line is recorded
  with its offset), so lines in = landed + quarantined;
- what landed reads back in DuckDB (valid UTF-8, typed) with no negative or non-finite
  amount and no time outside the landing's window;
- a rerun lands nothing twice.

The example count comes from the Hypothesis profile: a few dozen in the fast tier,
`make fuzz` runs thousands.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.otel.land import EARLIEST_EVENT_AT, LATEST_AHEAD, land_otel
from ingestion.paths import DataLayout
from tests.support.fuzzing import FUZZ_EXAMPLES

AMOUNTS = (
    "cost_usd",
    "cost_usd_micros",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "ttft_ms",
)
RECORDS_PER_SEED = 4

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "$0.02", "", "undefined", "-1"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
ANY_VALUES = st.one_of(
    st.builds(lambda v: {"stringValue": v}, st.text(max_size=10)),
    st.builds(lambda v: {"intValue": v}, st.one_of(st.integers(), st.text(max_size=6))),
    st.builds(lambda v: {"doubleValue": v}, st.one_of(st.floats(), JSON_LEAVES)),
    st.builds(lambda v: {"boolValue": v}, JSON_LEAVES),
    st.recursive(
        st.builds(lambda v: {"stringValue": v}, st.text(max_size=5)),
        lambda inner: (
            st.builds(lambda items: {"arrayValue": {"values": items}}, st.lists(inner))
            | st.builds(
                lambda pairs: {
                    "kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}
                },
                st.lists(st.tuples(st.text(max_size=4), inner), max_size=2),
            )
        ),
        max_leaves=4,
    ),
)


def _seed_lines(otel_dir: Path) -> list[dict]:
    """A log line and a metric line of the generator, cut to a few records each."""
    logs, metrics = None, None
    for path in sorted(otel_dir.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            document = json.loads(line)
            if logs is None and document.get("resourceLogs"):
                logs = document
            if metrics is None and document.get("resourceMetrics"):
                metrics = document
        if logs and metrics:
            break
    assert logs and metrics, "the generator writes logs and metrics"
    logs["resourceLogs"] = logs["resourceLogs"][:1]
    for scope in logs["resourceLogs"][0]["scopeLogs"]:
        scope["logRecords"] = scope["logRecords"][:RECORDS_PER_SEED]
    metrics["resourceMetrics"] = metrics["resourceMetrics"][:1]
    return [logs, metrics]


def _positions(node: object, path: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON tree."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _positions(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _positions(value, (*path, index))
    return found


def _replace(node: object, path: tuple, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(node[head], rest, value)
    return copy


def _delete(node: object, path: tuple) -> object:
    if len(path) == 1:
        if isinstance(node, dict):
            return {key: value for key, value in node.items() if key != path[0]}
        return [value for index, value in enumerate(node) if index != path[0]]
    head = path[0]
    if isinstance(node, dict):
        return {**node, head: _delete(node[head], path[1:])}
    copy = list(node)
    copy[head] = _delete(node[head], path[1:])
    return copy


def _dumps(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def mutated_line(draw: st.DrawFn, seeds: list[dict]) -> bytes:
    """One seed line with one to three mutations."""
    document: object = draw(st.sampled_from(seeds))
    line: bytes | None = None
    for _ in range(draw(st.integers(1, 3))):
        if line is not None:  # a byte-level mutation happened: keep mutating bytes
            kind = draw(st.sampled_from(["truncate", "bytes"]))
        else:
            kind = draw(
                st.sampled_from(
                    ["replace", "replace_value", "delete", "truncate", "bytes", "whole"]
                )
            )
        paths = _positions(document) if line is None else []
        if kind == "replace":
            document = _replace(document, draw(st.sampled_from(paths)), draw(JSON_VALUES))
        elif kind == "replace_value":
            # Aim at AnyValues: the attribute values and bodies clients get wrong.
            targets = [p for p in paths if p and p[-1] in ("value", "body")] or paths
            document = _replace(document, draw(st.sampled_from(targets)), draw(ANY_VALUES))
        elif kind == "delete":
            deletable = [p for p in paths if p]
            if deletable:
                document = _delete(document, draw(st.sampled_from(deletable)))
        elif kind == "whole":
            document = draw(JSON_VALUES)
        else:
            data = line if line is not None else _dumps(document)
            if kind == "truncate":
                line = data[: draw(st.integers(0, max(0, len(data) - 1)))]
            else:
                at = draw(st.integers(0, len(data)))
                stray = draw(
                    st.sampled_from(
                        [b"\xff", b"\xc3", b"\x00", b"\\ud800", b"\xef\xbb\xbf", b"\r", b"\x0b"]
                    )
                )
                line = data[:at] + stray + data[at:]
    return line if line is not None else _dumps(document)


def _non_blank(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n")[:-1] if line.strip())


def _check_landed(layout: DataLayout) -> None:
    events = list(layout.otel_events.glob("*/*.parquet"))
    if events:
        files = "[" + ", ".join(f"'{path}'" for path in events) + "]"
        checks = " or ".join(
            f"not ({column} is null or ({column} >= 0 and isfinite({column})))"
            for column in AMOUNTS
        )
        impossible, earliest, latest = duckdb.sql(
            f"select count(*) filter (where {checks}), min(event_at), max(event_at)"
            f" from read_parquet({files}, union_by_name = true)"
        ).fetchall()[0]
        assert impossible == 0
        if earliest is not None:
            assert earliest >= EARLIEST_EVENT_AT
            assert latest <= datetime.now(UTC) + LATEST_AHEAD
    metrics = list(layout.otel_metrics.glob("*/*.parquet"))
    if metrics:
        files = "[" + ", ".join(f"'{path}'" for path in metrics) + "]"
        non_finite = duckdb.sql(
            f"select count(*) from read_parquet({files}) where not isfinite(value)"
            " or not isfinite(sum) or not isfinite(min) or not isfinite(max)"
        ).fetchall()[0][0]
        assert non_finite == 0


@pytest.fixture(scope="module")
def seeds(small_org) -> list[dict]:
    return _seed_lines(Path(small_org.otel_dir))


@settings(
    max_examples=FUZZ_EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_lines_are_landed_or_quarantined_never_a_crash(
    seeds: list[dict], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    lines = data.draw(st.lists(mutated_line(seeds), min_size=1, max_size=6), label="lines")
    good = [_dumps(seed) for seed in seeds]
    content = b"\n".join([*good, *lines, good[0]]) + b"\n"
    root = tmp_path_factory.mktemp("fuzz")
    (root / "otel").mkdir()
    (root / "otel" / "logs.jsonl").write_bytes(content)
    layout = DataLayout(root / "data")

    summary = land_otel([root / "otel"], layout)

    assert summary.lines == _non_blank(content)
    quarantined = [
        json.loads(line)
        for path in layout.otel_quarantine.glob("lines-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(quarantined) == summary.quarantined_lines
    starts = {0} | {index + 1 for index, byte in enumerate(content) if byte == 10}
    assert all(entry["source_byte_offset"] in starts for entry in quarantined)
    seed_records = sum(
        len(scope["logRecords"]) for scope in seeds[0]["resourceLogs"][0]["scopeLogs"]
    )
    assert summary.records_landed >= 2 * seed_records  # the untouched first and last lines
    _check_landed(layout)
    again = land_otel([root / "otel"], layout)
    assert (again.records_landed, again.quarantined_lines) == (0, 0)


@given(value=ANY_VALUES)
@settings(
    max_examples=FUZZ_EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_attribute_value_on_a_cost_lands_finite_or_null(
    tmp_path_factory: pytest.TempPathFactory, value: dict
) -> None:
    from tests.support.otel_lines import otlp_line

    now = int(datetime.now(UTC).timestamp() * 1e9)
    line = otlp_line("api_request", now, cost_usd=value, input_tokens=value, extra=value)
    root = tmp_path_factory.mktemp("cost")
    (root / "otel").mkdir()
    (root / "otel" / "logs.jsonl").write_bytes(_dumps(json.loads(line)) + b"\n")
    layout = DataLayout(root / "data")
    summary = land_otel([root / "otel"], layout)
    assert summary.records_landed + summary.quarantined_lines == 1
    _check_landed(layout)
    if summary.records_landed:
        cost = duckdb.sql(
            f"select cost_usd from read_parquet('{layout.otel_events}/*/*.parquet')"
        ).fetchall()[0][0]
        assert cost is None or (math.isfinite(cost) and cost >= 0)
