"""The slow baseline the landing is measured against: a per-record `json.loads` loop.

Reads OTLP/JSON lines, builds one dict per log record with one key per attribute, and makes
an Arrow table with `Table.from_pylist`, then writes Parquet (zstd), like the real landing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _value(value: dict) -> object:
    for kind, inner in value.items():
        if kind == "arrayValue":
            return [_value(item) for item in inner.get("values", [])]
        if kind == "intValue":
            return int(inner)
        return inner
    return None


def naive_land(paths: list[Path], output: Path) -> tuple[int, float]:
    """Land `paths` record by record; returns (records, seconds)."""
    started = time.perf_counter()
    rows = []
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                request = json.loads(line)
                for resource_logs in request.get("resourceLogs", []):
                    resource = {
                        item["key"]: _value(item["value"])
                        for item in resource_logs.get("resource", {}).get("attributes", [])
                    }
                    for scope_logs in resource_logs.get("scopeLogs", []):
                        for record in scope_logs.get("logRecords", []):
                            row = {f"resource.{key}": str(value) for key, value in resource.items()}
                            row["time_unix_nano"] = int(record.get("timeUnixNano", 0))
                            row["body"] = record.get("body", {}).get("stringValue")
                            for item in record.get("attributes", []):
                                value = _value(item["value"])
                                row[item["key"]] = value if isinstance(value, list) else str(value)
                            rows.append(row)
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, output, compression="zstd")
    return len(rows), time.perf_counter() - started


if __name__ == "__main__":
    records, seconds = naive_land([Path(p) for p in sys.argv[1:-1]], Path(sys.argv[-1]))
    print(
        json.dumps({"records": records, "seconds": seconds, "events_per_second": records / seconds})
    )
