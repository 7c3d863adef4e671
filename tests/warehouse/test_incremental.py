"""Incremental builds equal full refreshes (B1, B6), with duplicate and late deliveries.

The small organisation's collector files are landed in two batches: the first holds the
middle of the period; the second the rest, including the earliest file (late: its days
are older than anything staged) and a copy of a file already landed (a duplicate delivery,
F5). Builds use no lookback, so the second build really re-stages only the days the second
batch touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import PullSummary, pull_directory
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult
from tests.support.checksums import checksums as _checksums
from warehouse.build import BuildResult, build_warehouse
from warehouse.publish import publish_serving

NO_LOOKBACK = {"late_arrival_lookback_hours": 0}


def _ok(result: BuildResult) -> BuildResult:
    assert result.success, result.failures or result.error
    assert result.tests["fail"] == 0 and result.tests["error"] == 0
    return result


def _land(files: list[Path], folder: Path, layout: DataLayout) -> None:
    folder.mkdir(parents=True)
    for file in files:
        shutil.copy(file, folder / file.name)
    land_otel([folder], layout)


@pytest.fixture(scope="module")
def incremental_and_full(
    small_org: GenerationResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict, dict]:
    root = tmp_path_factory.mktemp("incremental")
    layout = DataLayout(root / "data")
    otel = Path(small_org.otel_dir)
    # Rotated files in time order, then the live file.
    logs = [*sorted(otel.glob("logs-*.jsonl")), otel / "logs.jsonl"]
    assert len(logs) >= 3, "the fixture should rotate its log file at least twice"
    first_batch = logs[1:-1]
    second_batch = [logs[0], logs[-1]]

    _land(first_batch, root / "batch1", layout)
    _ok(build_warehouse(layout, dbt_vars=NO_LOOKBACK))
    _land(second_batch, root / "batch2", layout)
    # A file landed twice (a collector retry re-exported the same records): the landing may
    # hold both copies; staging must keep one.
    landed = sorted(layout.otel_events.glob("*/*.parquet"))[0]
    copy = landed.with_name("redelivered.parquet")
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * replace (now() as landed_at) from read_parquet('{landed}'))"
            f" to '{copy}' (format parquet)"
        )
    _ok(build_warehouse(layout, dbt_vars=NO_LOOKBACK))
    # The directory arrives after the events: the third-party person, known to OTel only by
    # `enduser.id`, now resolves to their account, so days already built must be rebuilt.
    emulator_data = EmulatorData.load(Path(small_org.output_dir) / "compliance")
    with (
        ComplianceEmulator(emulator_data) as emulator,
        ComplianceClient("test-key", emulator.url) as client,
    ):
        pull_directory(client, layout, PullSummary())
    third = _ok(build_warehouse(layout, dbt_vars=NO_LOOKBACK))
    incremental = _checksums(layout.build_database)
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        (resolved_by_enduser,) = connection.execute(
            "select count(*) from marts.dim_users"
            " where identity_source = 'enduser_id' and user_account_id is not null"
        ).fetchone()
    assert resolved_by_enduser == 1
    # The serving copy took only the rebuilt rows of the incremental marts, and still
    # equals a whole copy of the build.
    assert "marts.fct_api_requests" in third.published.incremental_tables
    whole_copy = publish_serving(layout.build_database, root / "whole" / "warehouse.duckdb")
    assert _checksums(layout.serving_database, schemas=("marts",)) == _checksums(
        whole_copy.path, schemas=("marts",)
    )

    _ok(build_warehouse(layout, publish=False, dbt_vars=NO_LOOKBACK))
    repeated = _checksums(layout.build_database)

    _ok(build_warehouse(layout, publish=False, full_refresh=True))
    full = _checksums(layout.build_database)
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        (duplicates,) = connection.execute(
            "select sum(duplicate_deliveries) from marts.fct_telemetry_health"
        ).fetchone()
        (copied,) = connection.execute(f"select count(*) from read_parquet('{copy}')").fetchone()
    assert duplicates == copied > 0
    return incremental, repeated, full


def test_incremental_build_equals_full_refresh(incremental_and_full) -> None:
    incremental, _, full = incremental_and_full
    assert incremental.keys() == full.keys()
    different = [name for name in full if incremental[name] != full[name]]
    assert different == []
    assert full["marts.fct_api_requests"][0] > 0


def test_a_run_with_no_new_data_changes_nothing(incremental_and_full) -> None:
    incremental, repeated, _ = incremental_and_full
    assert repeated == incremental


def test_duplicate_delivery_leaves_no_duplicate_events(
    incremental_and_full, small_org: GenerationResult
) -> None:
    _, _, full = incremental_and_full
    assert full["staging.stg_otel__events"][0] == small_org.events
