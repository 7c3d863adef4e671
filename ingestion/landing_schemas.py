"""The schema of every landed dataset, as empty Parquet files the warehouse reads beside it.

dbt reads each landed dataset together with its empty schema file, so a model builds (with
no rows, and every column typed) before anything has landed: an OTel-only installation
never pulls the Compliance API, and a new one has no files yet.

    .venv/bin/python -m ingestion.landing_schemas   # rewrite dbt_project/landing_schemas/
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.billing.records import REPORT_SCHEMAS
from ingestion.compliance_api.pull import ACTIVITIES_SCHEMA
from ingestion.compliance_api.schemas import SNAPSHOT_SCHEMAS
from ingestion.otel.privacy import CONTENT_COLUMNS
from ingestion.otel.schema import EVENTS_SCHEMA, METRICS_SCHEMA

SCHEMA_DIRECTORY = Path(__file__).resolve().parents[1] / "dbt_project" / "landing_schemas"


def landing_schemas() -> dict[str, pa.Schema]:
    """`<source>__<entity>` -> the Arrow schema of what the landing writes."""
    schemas = {"otel__events": EVENTS_SCHEMA, "otel__metrics": METRICS_SCHEMA}
    # Under privacy `standard` the content text lands apart, keyed by event_id.
    content_fields = ("event_id", "event_date", *CONTENT_COLUMNS)
    schemas["otel__content"] = pa.schema([EVENTS_SCHEMA.field(name) for name in content_fields])
    schemas["compliance_api__activities"] = ACTIVITIES_SCHEMA
    schemas |= {f"compliance_api__{name}": schema for name, schema in SNAPSHOT_SCHEMAS.items()}
    schemas |= {f"billing__{name}": schema for name, schema in REPORT_SCHEMAS.items()}
    return schemas


def write_landing_schemas(directory: Path = SCHEMA_DIRECTORY) -> list[Path]:
    """Write one empty Parquet file per landed dataset."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(landing_schemas().items()):
        path = directory / f"{name}.parquet"
        pq.write_table(schema.empty_table(), path)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_landing_schemas():
        print(path)  # noqa: T201
