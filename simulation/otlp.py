"""Build OTLP export requests (logs and metrics) from simulated events.

Messages are built with the opentelemetry-proto classes, so their shape is the protocol's;
`ingestion.otel.otlp_json` encodes them the collector's way.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from itertools import groupby

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from simulation.behaviour import AttributeValue, Event, resource_tags, sends_email, utc_date
from simulation.organisation import Person

EVENTS_SCOPE = "com.anthropic.claude_code.events"
METRICS_SCOPE = "com.anthropic.claude_code"
CLI_VERSION = "2.1.246"
COWORK_APP_VERSION = "1.37937.3"
TOKEN_TYPES = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cacheRead", "cache_read_tokens"),
    ("cacheCreation", "cache_creation_tokens"),
)


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


def resource_attributes(person: Person, on: date) -> dict[str, AttributeValue]:
    """Resource attributes of a person's client on a UTC day."""
    is_cowork = person.service_name == "cowork"
    attributes: dict[str, AttributeValue] = {
        "service.name": person.service_name,
        "service.version": COWORK_APP_VERSION if is_cowork else CLI_VERSION,
        "host.arch": person.host_arch,
        "os.type": person.os_type,
        "os.version": person.os_version,
        "process.owner": person.login,  # on every deployment (spec §1.5)
    }
    if person.third_party:
        # `endUserAttribution`: the only identity a third-party deployment sends.
        attributes["enduser.id"] = person.email
    return attributes | resource_tags(person, on)


def _add_resource(resource, attributes: dict[str, AttributeValue]) -> None:
    for key, value in attributes.items():
        set_any_value(resource.attributes.add(key=key).value, value)


def build_logs_request(client_batches: Sequence[Sequence[Event]]) -> ExportLogsServiceRequest:
    """One collector write: several clients' export batches, one ResourceLogs each.

    A batch whose resource changes inside it (team tags moving at midnight UTC) is split in
    one ResourceLogs per resource.
    """
    request = ExportLogsServiceRequest()
    for batch in client_batches:
        person = batch[0].person
        tags = (resource_tags(person, utc_date(event.time_ns)) for event in batch)
        for _, same_resource in groupby(zip(tags, batch, strict=True), key=lambda pair: pair[0]):
            events = [event for _, event in same_resource]
            resource_logs: ResourceLogs = request.resource_logs.add()
            _add_resource(
                resource_logs.resource, resource_attributes(person, utc_date(events[0].time_ns))
            )
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = EVENTS_SCOPE
            scope_logs.scope.version = CLI_VERSION
            for event in events:
                record: LogRecord = scope_logs.log_records.add(
                    time_unix_nano=event.time_ns, observed_time_unix_nano=event.time_ns
                )
                record.body.string_value = f"claude_code.{event.name}"
                for key, value in event.attributes.items():
                    set_any_value(record.attributes.add(key=key).value, value)
    return request


def uses_cumulative_temporality(person: Person) -> bool:
    """About a third of clients set OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative."""
    return zlib.crc32(person.account_id.encode()) % 3 == 0


def build_metrics_request(
    client_batches: Sequence[tuple[int, int, Sequence[Event]]],
) -> ExportMetricsServiceRequest:
    """Claude Code's cost and token counters for several clients' export intervals.

    Args:
        client_batches: (interval start ns, export time ns, api_request events of one client
            process in that interval); for cumulative clients the events are all of the
            process's requests so far, and the start is the process start.
    """
    request = ExportMetricsServiceRequest()
    for start_ns, time_ns, events in client_batches:
        person = events[0].person
        resource_metrics = request.resource_metrics.add()
        _add_resource(resource_metrics.resource, resource_attributes(person, utc_date(time_ns)))
        scope_metrics = resource_metrics.scope_metrics.add()
        scope_metrics.scope.name = METRICS_SCOPE
        scope_metrics.scope.version = CLI_VERSION
        temporality = (
            AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
            if uses_cumulative_temporality(person)
            else AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        )
        cost: dict[str, float] = defaultdict(float)
        tokens: dict[tuple[str, str], float] = defaultdict(float)
        for event in events:
            model = str(event.attributes["model"])
            cost[model] += float(event.attributes["cost_usd"])
            for token_type, attribute in TOKEN_TYPES:
                tokens[model, token_type] += float(event.attributes[attribute])
        session_id = events[-1].session_id
        standard: dict[str, AttributeValue] = {"session.id": session_id}
        if not person.third_party:
            standard |= {
                "user.account_uuid": person.account_uuid,
                "user.account_id": person.account_id,
            }
        standard["user.id"] = person.device_id
        if sends_email(person, session_id):
            standard["user.email"] = person.email
        standard["terminal.type"] = "vscode"
        cost_metric = scope_metrics.metrics.add(name="claude_code.cost.usage", unit="USD")
        cost_metric.description = "Cost of the Claude Code session"
        cost_metric.sum.aggregation_temporality = temporality
        cost_metric.sum.is_monotonic = True
        for model, value in sorted(cost.items()):
            point = cost_metric.sum.data_points.add(
                start_time_unix_nano=start_ns, time_unix_nano=time_ns, as_double=value
            )
            for key, attribute in (standard | {"model": model}).items():
                set_any_value(point.attributes.add(key=key).value, attribute)
        token_metric = scope_metrics.metrics.add(name="claude_code.token.usage", unit="tokens")
        token_metric.description = "Number of tokens used"
        token_metric.sum.aggregation_temporality = temporality
        token_metric.sum.is_monotonic = True
        for (model, token_type), value in sorted(tokens.items()):
            point = token_metric.sum.data_points.add(
                start_time_unix_nano=start_ns, time_unix_nano=time_ns, as_double=value
            )
            for key, attribute in (standard | {"model": model, "type": token_type}).items():
                set_any_value(point.attributes.add(key=key).value, attribute)
    return request
