"""Encode OTLP messages as OTLP/JSON, the way the collector's `file` exporter writes them.

The collector marshals with pdata's OTLP/JSON marshaller: lowerCamelCase keys, 64-bit
integers as decimal strings, enums as integers, trace and span ids as hex, zero or empty
fields omitted. The landing uses this to turn `format: proto` files into the same JSON lines
as `format: json` files (one parser for both); the generator uses it to write files. A test
checks it against protobuf's own JSON parser. It walks only the fields OTLP logs and metrics
use, because `google.protobuf.json_format` is about ten times slower.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint, Metric, NumberDataPoint
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _any_value_json(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return '{"stringValue":' + _dumps(value.string_value) + "}"
    if kind == "int_value":
        return '{"intValue":"' + str(value.int_value) + '"}'
    if kind == "double_value":
        return '{"doubleValue":' + _dumps(value.double_value) + "}"
    if kind == "bool_value":
        return '{"boolValue":' + ("true" if value.bool_value else "false") + "}"
    if kind == "array_value":
        items = ",".join(_any_value_json(item) for item in value.array_value.values)
        return '{"arrayValue":{"values":[' + items + "]}}" if items else '{"arrayValue":{}}'
    if kind == "kvlist_value":
        items = _attributes_json(value.kvlist_value.values)
        return '{"kvlistValue":{"values":[' + items + "]}}" if items else '{"kvlistValue":{}}'
    if kind == "bytes_value":
        return '{"bytesValue":"' + base64.b64encode(value.bytes_value).decode() + '"}'
    return "{}"


def _attributes_json(attributes: Iterable[KeyValue]) -> str:
    return ",".join(
        '{"key":' + _dumps(item.key) + ',"value":' + _any_value_json(item.value) + "}"
        for item in attributes
    )


def _log_record_json(record: LogRecord) -> str:
    fields = []
    if record.time_unix_nano:
        fields.append(f'"timeUnixNano":"{record.time_unix_nano}"')
    if record.observed_time_unix_nano:
        fields.append(f'"observedTimeUnixNano":"{record.observed_time_unix_nano}"')
    if record.severity_number:
        fields.append(f'"severityNumber":{record.severity_number}')
    if record.severity_text:
        fields.append('"severityText":' + _dumps(record.severity_text))
    if record.HasField("body"):
        fields.append('"body":' + _any_value_json(record.body))
    if record.attributes:
        fields.append('"attributes":[' + _attributes_json(record.attributes) + "]")
    if record.dropped_attributes_count:
        fields.append(f'"droppedAttributesCount":{record.dropped_attributes_count}')
    if record.flags:
        fields.append(f'"flags":{record.flags}')
    if record.trace_id:
        fields.append(f'"traceId":"{record.trace_id.hex()}"')
    if record.span_id:
        fields.append(f'"spanId":"{record.span_id.hex()}"')
    if record.event_name:
        fields.append('"eventName":' + _dumps(record.event_name))
    return "{" + ",".join(fields) + "}"


def _resource_json(resource: Resource) -> str:
    attributes = _attributes_json(resource.attributes)
    fields = [f'"attributes":[{attributes}]'] if attributes else []
    if resource.dropped_attributes_count:
        fields.append(f'"droppedAttributesCount":{resource.dropped_attributes_count}')
    return "{" + ",".join(fields) + "}"


def _scope_json(scope: InstrumentationScope) -> str:
    fields = []
    if scope.name:
        fields.append('"name":' + _dumps(scope.name))
    if scope.version:
        fields.append('"version":' + _dumps(scope.version))
    if scope.attributes:
        fields.append('"attributes":[' + _attributes_json(scope.attributes) + "]")
    return "{" + ",".join(fields) + "}"


def _envelope_json(container, resource_field: str, scopes_field: str, items_json) -> str:
    """One ResourceLogs/ResourceMetrics: resource, its scopes, each with encoded items."""
    parts = []
    if container.HasField("resource"):
        parts.append('"resource":' + _resource_json(container.resource))
    scopes = []
    for scope_container in getattr(container, scopes_field):
        scope_parts = []
        if scope_container.HasField("scope"):
            scope_parts.append('"scope":' + _scope_json(scope_container.scope))
        scope_parts.append(items_json(scope_container))
        if scope_container.schema_url:
            scope_parts.append('"schemaUrl":' + _dumps(scope_container.schema_url))
        scopes.append("{" + ",".join(scope_parts) + "}")
    parts.append(f'"{resource_field}":[' + ",".join(scopes) + "]")
    if container.schema_url:
        parts.append('"schemaUrl":' + _dumps(container.schema_url))
    return "{" + ",".join(parts) + "}"


def encode_logs_json(request: ExportLogsServiceRequest) -> str:
    """Encode a logs export request as one OTLP/JSON line, the collector's way (no newline)."""
    return (
        '{"resourceLogs":['
        + ",".join(
            _envelope_json(
                resource_logs,
                "scopeLogs",
                "scope_logs",
                lambda scope_logs: (
                    '"logRecords":['
                    + ",".join(_log_record_json(record) for record in scope_logs.log_records)
                    + "]"
                ),
            )
            for resource_logs in request.resource_logs
        )
        + "]}"
    )


def _times_json(point: NumberDataPoint | HistogramDataPoint) -> list[str]:
    fields = []
    if point.attributes:
        fields.append('"attributes":[' + _attributes_json(point.attributes) + "]")
    if point.start_time_unix_nano:
        fields.append(f'"startTimeUnixNano":"{point.start_time_unix_nano}"')
    if point.time_unix_nano:
        fields.append(f'"timeUnixNano":"{point.time_unix_nano}"')
    return fields


def _number_point_json(point: NumberDataPoint) -> str:
    fields = _times_json(point)
    kind = point.WhichOneof("value")
    if kind == "as_double":
        fields.append('"asDouble":' + _dumps(point.as_double))
    elif kind == "as_int":
        fields.append(f'"asInt":"{point.as_int}"')
    if point.flags:
        fields.append(f'"flags":{point.flags}')
    return "{" + ",".join(fields) + "}"


def _histogram_point_json(point: HistogramDataPoint) -> str:
    fields = _times_json(point)
    if point.count:
        fields.append(f'"count":"{point.count}"')
    if point.HasField("sum"):
        fields.append('"sum":' + _dumps(point.sum))
    if point.bucket_counts:
        fields.append('"bucketCounts":[' + ",".join(f'"{c}"' for c in point.bucket_counts) + "]")
    if point.explicit_bounds:
        fields.append(
            '"explicitBounds":[' + ",".join(_dumps(b) for b in point.explicit_bounds) + "]"
        )
    if point.flags:
        fields.append(f'"flags":{point.flags}')
    if point.HasField("min"):
        fields.append('"min":' + _dumps(point.min))
    if point.HasField("max"):
        fields.append('"max":' + _dumps(point.max))
    return "{" + ",".join(fields) + "}"


def _metric_json(metric: Metric) -> str:
    fields = ['"name":' + _dumps(metric.name)]
    if metric.description:
        fields.append('"description":' + _dumps(metric.description))
    if metric.unit:
        fields.append('"unit":' + _dumps(metric.unit))
    kind = metric.WhichOneof("data")
    if kind == "gauge":
        points = ",".join(_number_point_json(p) for p in metric.gauge.data_points)
        fields.append('"gauge":{"dataPoints":[' + points + "]}")
    elif kind == "sum":
        data = metric.sum
        inner = ['"dataPoints":[' + ",".join(_number_point_json(p) for p in data.data_points) + "]"]
        if data.aggregation_temporality:
            inner.append(f'"aggregationTemporality":{data.aggregation_temporality}')
        if data.is_monotonic:
            inner.append('"isMonotonic":true')
        fields.append('"sum":{' + ",".join(inner) + "}")
    elif kind == "histogram":
        data = metric.histogram
        points = ",".join(_histogram_point_json(p) for p in data.data_points)
        inner = ['"dataPoints":[' + points + "]"]
        if data.aggregation_temporality:
            inner.append(f'"aggregationTemporality":{data.aggregation_temporality}')
        fields.append('"histogram":{' + ",".join(inner) + "}")
    return "{" + ",".join(fields) + "}"


def encode_metrics_json(request: ExportMetricsServiceRequest) -> str:
    """Encode a metrics export request as one OTLP/JSON line (no newline).

    Exponential histograms and summaries, which Claude clients do not send, are written
    without their data points.
    """
    return (
        '{"resourceMetrics":['
        + ",".join(
            _envelope_json(
                resource_metrics,
                "scopeMetrics",
                "scope_metrics",
                lambda scope_metrics: (
                    '"metrics":['
                    + ",".join(_metric_json(metric) for metric in scope_metrics.metrics)
                    + "]"
                ),
            )
            for resource_metrics in request.resource_metrics
        )
        + "]}"
    )
