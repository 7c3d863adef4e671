"""The empty schema files dbt reads beside each landed dataset match what the landing writes."""

import pyarrow.parquet as pq

from ingestion.landing_schemas import SCHEMA_DIRECTORY, landing_schemas


def test_committed_schema_files_match_the_code() -> None:
    schemas = landing_schemas()
    files = {path.stem for path in SCHEMA_DIRECTORY.glob("*.parquet")}
    assert files == set(schemas), "run: .venv/bin/python -m ingestion.landing_schemas"
    for name, schema in schemas.items():
        written = pq.read_schema(SCHEMA_DIRECTORY / f"{name}.parquet")
        assert written.remove_metadata().equals(schema.remove_metadata()), name
