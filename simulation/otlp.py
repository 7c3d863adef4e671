"""Build OTLP export requests from simulated events and encode them as the collector does.

Messages are built with the opentelemetry-proto classes, so their shape is the protocol's.
The collector's `file` exporter (`format: json`) marshals them with pdata's OTLP/JSON
marshaller: lowerCamelCase keys, 64-bit integers as decimal strings, enums as integers,
trace and span ids as hex, and zero or empty fields omitted. `encode_logs_json` does the
same; a test checks it against protobuf's own JSON parser. It is a direct walk over the
fields we use because `google.protobuf.json_format` is ~10x slower.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs

from simulation.behaviour import AttributeValue, Event, resource_tags
from simulation.organisation import Person

EVENTS_SCOPE = "com.anthropic.claude_code.events"
CLI_VERSION = "2.1.246"
COWORK_APP_VERSION = "1.37937.3"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def set_any_value(target: AnyValue, value: AttributeValue) -> None:
    """Store a Python value in an OTLP AnyValue, choosing the OTLP type as the client does."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    else:
        target.array_value.SetInParent()
        for item in value:
            set_any_value(target.array_value.values.add(), item)


def resource_attributes(person: Person) -> dict[str, AttributeValue]:
    """Resource attributes of a person's client."""
    is_cowork = person.service_name == "cowork"
    attributes: dict[str, AttributeValue] = {
        "service.name": person.service_name,
        "service.version": COWORK_APP_VERSION if is_cowork else CLI_VERSION,
        "host.arch": person.host_arch,
        "os.type": person.os_type,
        "os.version": person.os_version,
    }
    return attributes | resource_tags(person)


def build_logs_request(client_batches: Sequence[Sequence[Event]]) -> ExportLogsServiceRequest:
    """One collector write: several clients' export batches, one ResourceLogs each."""
    request = ExportLogsServiceRequest()
    for batch in client_batches:
        resource_logs: ResourceLogs = request.resource_logs.add()
        for key, value in resource_attributes(batch[0].person).items():
            set_any_value(resource_logs.resource.attributes.add(key=key).value, value)
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = EVENTS_SCOPE
        scope_logs.scope.version = CLI_VERSION
        for event in batch:
            record: LogRecord = scope_logs.log_records.add(
                time_unix_nano=event.time_ns, observed_time_unix_nano=event.time_ns
            )
            record.body.string_value = f"claude_code.{event.name}"
            for key, value in event.attributes.items():
                set_any_value(record.attributes.add(key=key).value, value)
    return request


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


def encode_logs_json(request: ExportLogsServiceRequest) -> str:
    """Encode a logs export request as one OTLP/JSON line, the collector's way (no newline)."""
    resources = []
    for resource_logs in request.resource_logs:
        parts = []
        if resource_logs.HasField("resource"):
            attributes = _attributes_json(resource_logs.resource.attributes)
            parts.append(
                '"resource":{' + (f'"attributes":[{attributes}]' if attributes else "") + "}"
            )
        scopes = []
        for scope_logs in resource_logs.scope_logs:
            scope_parts = []
            if scope_logs.HasField("scope"):
                scope = scope_logs.scope
                fields = []
                if scope.name:
                    fields.append('"name":' + _dumps(scope.name))
                if scope.version:
                    fields.append('"version":' + _dumps(scope.version))
                scope_parts.append('"scope":{' + ",".join(fields) + "}")
            records = ",".join(_log_record_json(record) for record in scope_logs.log_records)
            scope_parts.append('"logRecords":[' + records + "]")
            if scope_logs.schema_url:
                scope_parts.append('"schemaUrl":' + _dumps(scope_logs.schema_url))
            scopes.append("{" + ",".join(scope_parts) + "}")
        parts.append('"scopeLogs":[' + ",".join(scopes) + "]")
        if resource_logs.schema_url:
            parts.append('"schemaUrl":' + _dumps(resource_logs.schema_url))
        resources.append("{" + ",".join(parts) + "}")
    return '{"resourceLogs":[' + ",".join(resources) + "]}"
