"""Metric data points land with their temporality and start time, so cost sums correctly."""

import csv
import json
from pathlib import Path

import duckdb
import pytest

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout


@pytest.fixture(scope="module")
def layout(small_org, tmp_path_factory) -> DataLayout:
    layout = DataLayout(tmp_path_factory.mktemp("metrics"))
    land_otel([Path(small_org.otel_dir)], layout)
    return layout


def test_points_keep_type_temporality_and_start(layout: DataLayout) -> None:
    rows = duckdb.sql(
        f"select metric_name, metric_type, aggregation_temporality, is_monotonic, unit,"
        f" count(*), bool_and(start_at < point_at)"
        f" from read_parquet('{layout.otel_metrics}/*/*.parquet') group by all order by all"
    ).fetchall()
    names = {(row[0], row[1], row[2]) for row in rows}
    assert ("claude_code.cost.usage", "sum", "delta") in names
    assert ("claude_code.cost.usage", "sum", "cumulative") in names
    assert ("claude_code.token.usage", "sum", "delta") in names
    assert all(row[3] is True and row[6] is True for row in rows)
    assert {row[4] for row in rows} == {"USD", "tokens"}


def test_cost_from_metrics_equals_session_cost_when_temporality_is_honoured(
    small_org, layout
) -> None:
    """Delta points add up; for cumulative series, the last point per (series, start) counts."""
    per_session = dict(
        duckdb.sql(
            f"""
            with points as (
                select * from read_parquet('{layout.otel_metrics}/*/*.parquet')
                where metric_name = 'claude_code.cost.usage'
            ),
            last_cumulative as (
                select session_id, arg_max(value, point_at) as value
                from points where aggregation_temporality = 'cumulative'
                group by session_id, model, start_at
            )
            select session_id, sum(value) from (
                select session_id, value from points where aggregation_temporality = 'delta'
                union all
                select session_id, value from last_cumulative
            ) group by session_id
            """
        ).fetchall()
    )
    with (Path(small_org.output_dir) / "ground_truth/sessions.csv").open() as handle:
        truth = {row["session_id"]: float(row["cost_usd"]) for row in csv.DictReader(handle)}
    assert per_session  # Claude Code users export metrics
    for session_id, cost in per_session.items():
        assert cost == pytest.approx(truth[session_id], rel=1e-9, abs=1e-9)


def test_histograms_and_gauges_land(tmp_path: Path) -> None:
    line = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeMetrics": [
                    {
                        "scope": {"name": "com.anthropic.claude_code"},
                        "metrics": [
                            {
                                "name": "request.duration",
                                "unit": "ms",
                                "histogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": "1773100000000000000",
                                            "timeUnixNano": "1773100060000000000",
                                            "count": "3",
                                            "sum": 42.5,
                                            "bucketCounts": ["1", "2"],
                                            "explicitBounds": [10.0],
                                            "min": 1.5,
                                            "max": 30.0,
                                            "attributes": [
                                                {"key": "model", "value": {"stringValue": "m"}}
                                            ],
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "queue.depth",
                                "gauge": {
                                    "dataPoints": [
                                        {"timeUnixNano": "1773100060000000000", "asInt": 7}
                                    ]
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }
    folder = tmp_path / "otel"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text(json.dumps(line) + "\n")
    layout = DataLayout(tmp_path / "data")
    summary = land_otel([folder], layout)
    assert summary.metric_points_landed == 2
    rows = duckdb.sql(
        f"select metric_type, aggregation_temporality, value, count, sum, min, max, bucket_counts,"
        f" explicit_bounds, model from read_parquet('{layout.otel_metrics}/*/*.parquet') order by metric_type"
    ).fetchall()
    assert rows == [
        ("gauge", None, 7.0, None, None, None, None, None, None, None),
        ("histogram", "cumulative", None, 3, 42.5, 1.5, 30.0, [1, 2], [10.0], "m"),
    ]
