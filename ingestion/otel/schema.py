"""What the OTLP/JSON logs look like on disk, and the typed columns we land them as."""

from __future__ import annotations

import pyarrow as pa

# One AnyValue as pdata writes it. 64-bit ints are strings in collector files; a line from
# a client that sent plain numbers fails this schema and is normalised line by line.
_SCALAR_VALUE_FIELDS = [
    pa.field("stringValue", pa.string()),
    pa.field("intValue", pa.string()),
    pa.field("doubleValue", pa.float64()),
    pa.field("boolValue", pa.bool_()),
    pa.field("bytesValue", pa.string()),
]
SCALAR_VALUE = pa.struct(_SCALAR_VALUE_FIELDS)
ANY_VALUE = pa.struct(
    [
        *_SCALAR_VALUE_FIELDS,
        pa.field("arrayValue", pa.struct([pa.field("values", pa.list_(SCALAR_VALUE))])),
        pa.field(
            "kvlistValue",
            pa.struct(
                [
                    pa.field(
                        "values",
                        pa.list_(pa.struct([("key", pa.string()), ("value", SCALAR_VALUE)])),
                    )
                ]
            ),
        ),
    ]
)
KEY_VALUE_LIST = pa.list_(pa.struct([pa.field("key", pa.string()), pa.field("value", ANY_VALUE)]))

LOG_RECORD = pa.struct(
    [
        pa.field("timeUnixNano", pa.string()),
        pa.field("observedTimeUnixNano", pa.string()),
        pa.field("severityNumber", pa.int32()),
        pa.field("severityText", pa.string()),
        pa.field("body", ANY_VALUE),
        pa.field("attributes", KEY_VALUE_LIST),
        pa.field("traceId", pa.string()),
        pa.field("spanId", pa.string()),
        pa.field("eventName", pa.string()),
    ]
)
_SCOPE = pa.struct([("name", pa.string()), ("version", pa.string())])
_RESOURCE = pa.struct([pa.field("attributes", KEY_VALUE_LIST)])
_POINT_TIMES = [
    pa.field("attributes", KEY_VALUE_LIST),
    pa.field("startTimeUnixNano", pa.string()),
    pa.field("timeUnixNano", pa.string()),
]
NUMBER_POINT = pa.struct(
    [*_POINT_TIMES, pa.field("asDouble", pa.float64()), pa.field("asInt", pa.string())]
)
HISTOGRAM_POINT = pa.struct(
    [
        *_POINT_TIMES,
        pa.field("count", pa.string()),
        pa.field("sum", pa.float64()),
        pa.field("bucketCounts", pa.list_(pa.string())),
        pa.field("explicitBounds", pa.list_(pa.float64())),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
    ]
)
METRIC = pa.struct(
    [
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("gauge", pa.struct([pa.field("dataPoints", pa.list_(NUMBER_POINT))])),
        pa.field(
            "sum",
            pa.struct(
                [
                    pa.field("dataPoints", pa.list_(NUMBER_POINT)),
                    pa.field("aggregationTemporality", pa.int32()),
                    pa.field("isMonotonic", pa.bool_()),
                ]
            ),
        ),
        pa.field(
            "histogram",
            pa.struct(
                [
                    pa.field("dataPoints", pa.list_(HISTOGRAM_POINT)),
                    pa.field("aggregationTemporality", pa.int32()),
                ]
            ),
        ),
    ]
)
# One line holds logs or metrics (an exporter used by both pipelines writes both).
OTLP_LINE = pa.schema(
    [
        pa.field(
            "resourceLogs",
            pa.list_(
                pa.struct(
                    [
                        pa.field("resource", _RESOURCE),
                        pa.field(
                            "scopeLogs",
                            pa.list_(
                                pa.struct(
                                    [
                                        pa.field("scope", _SCOPE),
                                        pa.field("logRecords", pa.list_(LOG_RECORD)),
                                    ]
                                )
                            ),
                        ),
                    ]
                )
            ),
        ),
        pa.field(
            "resourceMetrics",
            pa.list_(
                pa.struct(
                    [
                        pa.field("resource", _RESOURCE),
                        pa.field(
                            "scopeMetrics",
                            pa.list_(
                                pa.struct(
                                    [
                                        pa.field("scope", _SCOPE),
                                        pa.field("metrics", pa.list_(METRIC)),
                                    ]
                                )
                            ),
                        ),
                    ]
                )
            ),
        ),
    ]
)

STRING, INT, DOUBLE, BOOL, STRING_LIST = "string", "int", "double", "bool", "string_list"
ARROW_TYPES = {
    STRING: pa.string(),
    INT: pa.int64(),
    DOUBLE: pa.float64(),
    BOOL: pa.bool_(),
    STRING_LIST: pa.list_(pa.string()),
}

# Who and where, on every event and every metric data point: (column, attribute key, type).
IDENTITY_COLUMNS = (
    ("organization_id", "organization.id", STRING),
    ("user_account_uuid", "user.account_uuid", STRING),
    ("user_account_id", "user.account_id", STRING),
    ("user_id", "user.id", STRING),
    ("user_email", "user.email", STRING),
    ("terminal_type", "terminal.type", STRING),
)
# Record attributes promoted to typed columns. Values are coerced by key, because clients
# send the same key with different OTLP types.
RECORD_COLUMNS = (
    ("session_id", "session.id", STRING),
    ("prompt_id", "prompt.id", STRING),
    ("event_sequence", "event.sequence", INT),
    ("event_timestamp", "event.timestamp", STRING),
    *IDENTITY_COLUMNS,
    ("workspace_host_paths", "workspace.host_paths", STRING_LIST),
    ("model", "model", STRING),
    ("cost_usd", "cost_usd", DOUBLE),
    ("cost_usd_micros", "cost_usd_micros", INT),
    ("duration_ms", "duration_ms", INT),
    ("ttft_ms", "ttft_ms", INT),
    ("input_tokens", "input_tokens", INT),
    ("output_tokens", "output_tokens", INT),
    ("cache_read_tokens", "cache_read_tokens", INT),
    ("cache_creation_tokens", "cache_creation_tokens", INT),
    ("cache_creation_5m_tokens", "cache_creation_5m_tokens", INT),
    ("cache_creation_1h_tokens", "cache_creation_1h_tokens", INT),
    ("speed", "speed", STRING),
    ("request_id", "request_id", STRING),
    ("query_source", "query_source", STRING),
    ("effort", "effort", STRING),
    ("status_code", "status_code", INT),
    ("error", "error", STRING),
    ("error_type", "error_type", STRING),
    ("attempt", "attempt", INT),
    ("total_attempts", "total_attempts", INT),
    ("tool_name", "tool_name", STRING),
    ("tool_use_id", "tool_use_id", STRING),
    ("success", "success", BOOL),
    ("decision", "decision", STRING),
    ("source", "source", STRING),
    ("decision_type", "decision_type", STRING),
    ("decision_source", "decision_source", STRING),
    ("tool_parameters", "tool_parameters", STRING),
    ("tool_input", "tool_input", STRING),
    ("mcp_server_scope", "mcp_server_scope", STRING),
    ("tool_result_size_bytes", "tool_result_size_bytes", INT),
    ("prompt_length", "prompt_length", INT),
    ("prompt", "prompt", STRING),
    ("response_length", "response_length", INT),
    ("response", "response", STRING),
    ("agent_id", "agent_id", STRING),
)
# Numbers that cannot be negative: a negative one is rejected (landed as null, the raw
# value kept in `rejected_values_json`), never summed into a mart.
NON_NEGATIVE_COLUMNS = frozenset(
    {
        "event_sequence",
        "cost_usd",
        "cost_usd_micros",
        "duration_ms",
        "ttft_ms",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "status_code",
        "attempt",
        "total_attempts",
        "tool_result_size_bytes",
        "prompt_length",
        "response_length",
    }
)
# Texts clients send for "no value" (`status_code` "undefined"): null, not a rejected value.
NULL_MARKERS = pa.array(["", "undefined", "null", "none", "n/a"])
# Resource attributes promoted to typed columns.
RESOURCE_COLUMNS = (
    ("service_name", "service.name", STRING),
    ("service_version", "service.version", STRING),
    ("os_type", "os.type", STRING),
    ("os_version", "os.version", STRING),
    ("host_arch", "host.arch", STRING),
)

# What a tool call touched, classified at landing before privacy hashes anything
# (ingestion/otel/security.py): class names, kinds, domains and MCP names, never the text
# they were read from, so every privacy mode keeps them as they are.
SECURITY_COLUMNS = (
    "target_class",
    "sensitive_kind",
    "secret_kinds",
    "egress_domain",
    "mcp_server_name",
    "mcp_tool_name",
)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_name", pa.string()),
        pa.field("event_at", pa.timestamp("us", tz="UTC")),
        pa.field("observed_at", pa.timestamp("us", tz="UTC")),
        pa.field("event_date", pa.date32()),
        pa.field("body", pa.string()),
        *(pa.field(column, ARROW_TYPES[kind]) for column, _, kind in RECORD_COLUMNS),
        *(pa.field(column, ARROW_TYPES[kind]) for column, _, kind in RESOURCE_COLUMNS),
        *(pa.field(column, pa.string()) for column in SECURITY_COLUMNS),
        pa.field("scope_name", pa.string()),
        pa.field("scope_version", pa.string()),
        pa.field("trace_id", pa.string()),
        pa.field("span_id", pa.string()),
        pa.field("attributes_json", pa.string()),
        pa.field("resource_json", pa.string()),
        # Values sent for a typed column that are not a value of its type, or impossible
        # (`{"cost_usd": "$0.02"}`, a negative token count): the column holds null.
        pa.field("rejected_values_json", pa.string()),
        pa.field("source_file_fingerprint", pa.string()),
        pa.field("source_byte_offset", pa.int64()),
        pa.field("landed_at", pa.timestamp("us", tz="UTC")),
    ]
)

# Metric data point attributes promoted to typed columns.
METRIC_POINT_COLUMNS = (
    ("session_id", "session.id", STRING),
    *IDENTITY_COLUMNS,
    ("model", "model", STRING),
    ("type", "type", STRING),
    ("query_source", "query_source", STRING),
    ("speed", "speed", STRING),
    ("effort", "effort", STRING),
    ("tool_name", "tool_name", STRING),
    ("decision", "decision", STRING),
    ("source", "source", STRING),
    ("language", "language", STRING),
    ("start_type", "start_type", STRING),
)

METRICS_SCHEMA = pa.schema(
    [
        pa.field("metric_point_id", pa.string(), nullable=False),
        pa.field("metric_name", pa.string()),
        pa.field("metric_type", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("aggregation_temporality", pa.string()),
        pa.field("is_monotonic", pa.bool_()),
        pa.field("value", pa.float64()),
        pa.field("count", pa.int64()),
        pa.field("sum", pa.float64()),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
        pa.field("bucket_counts", pa.list_(pa.int64())),
        pa.field("explicit_bounds", pa.list_(pa.float64())),
        *(pa.field(column, ARROW_TYPES[kind]) for column, _, kind in METRIC_POINT_COLUMNS),
        *(pa.field(column, ARROW_TYPES[kind]) for column, _, kind in RESOURCE_COLUMNS),
        pa.field("scope_name", pa.string()),
        pa.field("scope_version", pa.string()),
        pa.field("attributes_json", pa.string()),
        pa.field("resource_json", pa.string()),
        # Non-finite measures (NaN, Infinity) sent by the client: the measure holds null.
        pa.field("rejected_values_json", pa.string()),
        pa.field("start_at", pa.timestamp("us", tz="UTC")),
        pa.field("point_at", pa.timestamp("us", tz="UTC")),
        pa.field("point_date", pa.date32()),
        pa.field("source_file_fingerprint", pa.string()),
        pa.field("source_byte_offset", pa.int64()),
        pa.field("landed_at", pa.timestamp("us", tz="UTC")),
    ]
)
