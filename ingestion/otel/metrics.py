"""Turn parsed OTLP/JSON metrics into one row per data point (sums, gauges, histograms).

Temporality and start time are kept: a delta point counts once, while cumulative series
restart with a new start time when a client process restarts, so consumers sum the last
point per (series, start).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.otel.pivot import (
    Rejected,
    _flatten,
    _int_from_strings,
    _pivot,
    _timestamps_from_nanos,
    canonical_attributes,
    content_ids,
    flatten_envelope,
    leftover_json,
    rejected_json,
    resource_attributes,
)
from ingestion.otel.schema import METRIC_POINT_COLUMNS, METRICS_SCHEMA

_TEMPORALITY = {1: "delta", 2: "cumulative"}


def _temporality_names(codes: pa.Array) -> pa.Array:
    names = [_TEMPORALITY.get(code) for code in codes.to_pylist()]
    return pa.array(names, pa.string())


def _finite_measures(
    measures: dict[str, pa.Array],
) -> tuple[dict[str, pa.Array], list[Rejected]]:
    """Measures with NaN and infinities nulled, and which points sent them."""
    rejections = []
    for name in ("value", "sum", "min", "max"):
        measure = measures[name]
        finite = pc.fill_null(pc.is_finite(measure), True)
        if not pc.all(finite).as_py():
            rows = np.flatnonzero(pc.invert(finite).to_numpy(zero_copy_only=False))
            raw = pc.cast(measure.take(pa.array(rows)), pa.string()).to_pylist()
            rejections.append(Rejected(name, rows, raw))
            measures[name] = pc.if_else(finite, measure, pa.scalar(None, pa.float64()))
    return measures, rejections


def _point_rows(
    kind: str,
    metrics: pa.StructArray,
    metric_of_scope: np.ndarray,
    connection: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, pa.Array], np.ndarray] | None:
    """Columns for the data points of one metric kind, and each point's metric index."""
    data = metrics.field(kind)
    points, metric_index = _flatten(data.field("dataPoints"))
    rows = len(points)
    if rows == 0:
        return None
    take_metric = pa.array(metric_index)
    entries, parents = _flatten(points.field("attributes"))
    typed, leftover, _ = _pivot(entries, parents, rows, METRIC_POINT_COLUMNS)  # strings only
    attributes_json = leftover_json(connection, entries, parents, leftover, rows)
    if kind == "histogram":
        counts = points.field("bucketCounts")
        bucket_counts = pa.ListArray.from_arrays(
            counts.offsets, _int_from_strings(counts.values), mask=pc.is_null(counts)
        )
        measures = {
            "value": pa.nulls(rows, pa.float64()),
            "count": _int_from_strings(points.field("count")),
            "sum": points.field("sum"),
            "min": points.field("min"),
            "max": points.field("max"),
            "bucket_counts": bucket_counts,
            "explicit_bounds": points.field("explicitBounds"),
        }
    else:
        measures = {
            "value": pc.coalesce(
                points.field("asDouble"),
                pc.cast(_int_from_strings(points.field("asInt")), pa.float64()),
            ),
            "count": pa.nulls(rows, pa.int64()),
            "sum": pa.nulls(rows, pa.float64()),
            "min": pa.nulls(rows, pa.float64()),
            "max": pa.nulls(rows, pa.float64()),
            "bucket_counts": pa.nulls(rows, pa.list_(pa.int64())),
            "explicit_bounds": pa.nulls(rows, pa.list_(pa.float64())),
        }
    measures, rejections = _finite_measures(measures)
    temporality = (
        _temporality_names(data.field("aggregationTemporality")).take(take_metric)
        if kind != "gauge"
        else pa.nulls(rows, pa.string())
    )
    monotonic = (
        data.field("isMonotonic").take(take_metric) if kind == "sum" else pa.nulls(rows, pa.bool_())
    )
    columns = {
        "metric_name": metrics.field("name").take(take_metric),
        "metric_type": pa.array(np.full(rows, kind, dtype=object), pa.string()),
        "unit": metrics.field("unit").take(take_metric),
        "aggregation_temporality": temporality,
        "is_monotonic": monotonic,
        **measures,
        **typed,
        "attributes_json": attributes_json,
        "rejected_values_json": rejected_json(rejections, rows),
        "_point": pc.binary_join_element_wise(
            pc.coalesce(points.field("startTimeUnixNano"), ""),
            pc.coalesce(points.field("timeUnixNano"), ""),
            canonical_attributes(entries, parents, rows),
            "\x1d",
        ),
        "_start": points.field("startTimeUnixNano"),
        "_time": points.field("timeUnixNano"),
    }
    return columns, metric_index


def lines_to_metric_points(
    lines: pa.Table,
    line_offsets: np.ndarray,
    *,
    fingerprint: str,
    landed_at: datetime,
    connection: duckdb.DuckDBPyConnection,
) -> pa.Table:
    """One typed row per metric data point (see `METRICS_SCHEMA`)."""
    resources, line_of_resource, scopes, resource_of_scope, metrics, scope_of_metric = (
        flatten_envelope(lines, "resourceMetrics", "scopeMetrics", "metrics")
    )
    if len(metrics) == 0:
        return METRICS_SCHEMA.empty_table()
    resource_level, resource_json, resource_text = resource_attributes(connection, resources)
    tables = []
    for kind in ("sum", "gauge", "histogram"):
        built = _point_rows(kind, metrics, scope_of_metric, connection)
        if built is None:
            continue
        columns, metric_index = built
        scope_index = scope_of_metric[metric_index]
        resource_index = resource_of_scope[scope_index]
        take_resource = pa.array(resource_index)
        scope = scopes.field("scope")
        columns |= {name: column.take(take_resource) for name, column in resource_level.items()}
        columns |= {
            "scope_name": scope.field("name").take(pa.array(scope_index)),
            "scope_version": scope.field("version").take(pa.array(scope_index)),
            "resource_json": resource_json.take(take_resource),
            "source_byte_offset": pa.array(line_offsets[line_of_resource[resource_index]]),
        }
        # Same point delivered twice, same id: the point with its metric, scope and resource.
        identity = pa.table(
            {
                "resource": resource_text.take(take_resource),
                "scope_name": columns["scope_name"],
                "scope_version": pc.binary_join_element_wise(
                    pc.coalesce(columns["scope_version"], ""),
                    pc.coalesce(columns["metric_name"], ""),
                    kind,
                    pc.binary_join_element_wise(
                        *(
                            pc.cast(columns[name], pa.string())
                            for name in ("value", "count", "sum")
                        ),
                        "|",
                    ),
                    "|",
                ),
                "record": columns.pop("_point"),
            }
        )
        columns["metric_point_id"] = content_ids(connection, identity)
        tables.append(pa.table(columns))
    points = pa.concat_tables(tables, promote_options="default")
    rows = points.num_rows
    start_at = _timestamps_from_nanos(points.column("_start"))
    point_at = _timestamps_from_nanos(points.column("_time"))
    extra = {
        "start_at": start_at,
        "point_at": point_at,
        "point_date": pc.cast(point_at, pa.date32()),
        "source_file_fingerprint": pa.array(np.full(rows, fingerprint, dtype=object), pa.string()),
        "landed_at": pa.array(np.full(rows, landed_at), pa.timestamp("us", tz="UTC")),
    }
    return pa.table(
        [
            extra[field.name] if field.name in extra else points.column(field.name).cast(field.type)
            for field in METRICS_SCHEMA
        ],
        schema=METRICS_SCHEMA,
    )
