"""Read the generator's collector files back (JSON lines), independently of the generator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def value_of(value: dict) -> object:
    """A Python value from an OTLP/JSON AnyValue."""
    ((kind, inner),) = value.items()
    if kind == "arrayValue":
        return [value_of(item) for item in inner.get("values", [])]
    if kind == "intValue":
        return int(inner)
    return inner


def _attributes(items: list[dict]) -> dict[str, object]:
    return {item["key"]: value_of(item["value"]) for item in items}


@dataclass(frozen=True)
class Record:
    """One log record with its resource, attributes decoded."""

    time_ns: int
    resource: dict[str, object]
    attributes: dict[str, object]

    @property
    def name(self) -> str:
        return str(self.attributes["event.name"])


def log_records(otel_dir: Path) -> Iterator[Record]:
    """Every log record of every `logs*.jsonl` file."""
    for path in sorted(otel_dir.glob("logs*.jsonl")):
        for line in path.read_text().splitlines():
            for resource_logs in json.loads(line)["resourceLogs"]:
                resource = _attributes(resource_logs["resource"]["attributes"])
                for scope_logs in resource_logs["scopeLogs"]:
                    for record in scope_logs["logRecords"]:
                        yield Record(
                            int(record["timeUnixNano"]),
                            resource,
                            _attributes(record["attributes"]),
                        )


def metric_points(otel_dir: Path) -> Iterator[tuple[dict[str, object], dict[str, object]]]:
    """(resource, point attributes) of every metric data point of `metrics*.jsonl`."""
    for path in sorted(otel_dir.glob("metrics*.jsonl")):
        for line in path.read_text().splitlines():
            for resource_metrics in json.loads(line)["resourceMetrics"]:
                resource = _attributes(resource_metrics["resource"]["attributes"])
                for scope_metrics in resource_metrics["scopeMetrics"]:
                    for metric in scope_metrics["metrics"]:
                        for point in metric["sum"]["dataPoints"]:
                            yield resource, _attributes(point["attributes"])
