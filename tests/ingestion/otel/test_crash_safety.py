"""SIGKILL a real landing process at named points (and at random times), then rerun:
the result must equal an uninterrupted run exactly (F11, F12), and a failed write (F13)
must leave no visible partial file and no advanced manifest."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.otel import land as land_module
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
LAND = (
    "import sys; from pathlib import Path; from ingestion.otel.land import land_otel;"
    " from ingestion.paths import DataLayout;"
    " land_otel([Path(sys.argv[1])], DataLayout(Path(sys.argv[2])), compact_above=int(sys.argv[3]),"
    " parallel_above_bytes=int(sys.argv[4]))"
)
THREADS, PROCESSES = str(1 << 40), "1"  # parallel_above_bytes: never, always


def _run(
    otel: Path, data: Path, compact_above: int, parallel: str = THREADS, **environment: str
) -> subprocess.CompletedProcess:
    """Run a landing in its own process group; whatever it leaves behind dies with it."""
    command = [sys.executable, "-c", LAND, str(otel), str(data), str(compact_above), parallel]
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY_ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        process.wait(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _landed_state(data: Path) -> tuple[list[str], list[tuple]]:
    files = sorted(
        str(path.relative_to(data))
        for path in (data / "landing").rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )
    rows = duckdb.sql(
        f"select event_id, count(*) from read_parquet('{data}/landing/otel/events/*/*.parquet')"
        " group by event_id order by event_id"
    ).fetchall()
    return files, rows


@pytest.fixture(scope="module")
def uninterrupted(small_org, tmp_path_factory) -> dict[int, tuple]:
    states = {}
    for compact_above in (32, 1):
        data = tmp_path_factory.mktemp(f"reference-{compact_above}")
        assert _run(Path(small_org.otel_dir), data, compact_above).returncode == 0
        states[compact_above] = _landed_state(data)
    return states


@pytest.mark.parametrize(
    ("point", "after", "compact_above", "parallel"),
    [
        pytest.param("before_parquet_rename", 1, 32, THREADS, id="F11 first Parquet half written"),
        pytest.param("before_parquet_rename", 4, 32, THREADS, id="F11 later Parquet half written"),
        pytest.param("after_partition_written", 2, 32, THREADS, id="between partitions"),
        pytest.param("before_manifest_commit", 1, 32, THREADS, id="F12 published, not committed"),
        pytest.param("before_manifest_commit", 3, 32, THREADS, id="F12 third batch"),
        pytest.param("after_manifest_commit", 2, 32, THREADS, id="right after a commit"),
        pytest.param("before_compaction_rename", 1, 1, THREADS, id="compaction half written"),
        pytest.param(
            "after_compaction_rename", 1, 1, THREADS, id="compaction renamed, inputs kept"
        ),
        pytest.param("before_parquet_rename", 3, 32, PROCESSES, id="worker process mid-write"),
        pytest.param("after_partition_written", 3, 32, PROCESSES, id="worker between partitions"),
        pytest.param("before_manifest_commit", 2, 32, PROCESSES, id="main process before commit"),
    ],
)
def test_sigkill_at_a_crash_point_then_rerun_equals_an_uninterrupted_run(
    point: str,
    after: int,
    compact_above: int,
    parallel: str,
    small_org,
    uninterrupted,
    tmp_path: Path,
) -> None:
    otel = Path(small_org.otel_dir)
    # GIVEN a landing process (thread or worker-process mode) killed at the named point
    crashed = _run(
        otel,
        tmp_path,
        compact_above,
        parallel,
        COWORK_TEST_CRASH_AT=point,
        COWORK_TEST_CRASH_AFTER=str(after),
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    # WHEN it is run again
    assert _run(otel, tmp_path, compact_above, parallel).returncode == 0
    # THEN the landed files and rows equal those of a run that was never interrupted
    files, rows = _landed_state(tmp_path)
    assert (files, rows) == uninterrupted[compact_above]
    assert all(count == 1 for _, count in rows)


def test_sigkill_at_random_moments_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    from datetime import date

    from simulation.generate import generate

    generated = generate(
        tmp_path / "gen", seed=5, users=150, days=4, end_date=date(2026, 3, 10), rotate_megabytes=8
    )
    otel = Path(generated.otel_dir)
    reference = tmp_path / "reference"
    started = time.perf_counter()
    assert _run(otel, reference, 32).returncode == 0
    duration = time.perf_counter() - started
    data = tmp_path / "data"
    killed = 0
    for fraction, parallel in ((0.55, THREADS), (0.7, PROCESSES), (0.85, THREADS)):
        delay = duration * fraction  # interpreter start-up takes the first ~half
        process = subprocess.Popen(
            [sys.executable, "-c", LAND, str(otel), str(data), "32", parallel], cwd=REPOSITORY_ROOT
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        killed += process.wait() == -signal.SIGKILL
    assert killed >= 1  # at least one kill landed while the process was working
    assert _run(otel, data, 32).returncode == 0
    assert _landed_state(data) == _landed_state(reference)


def test_a_failed_write_fails_loudly_and_leaves_no_trace(
    small_org, tmp_path: Path, monkeypatch
) -> None:
    """F13: ENOSPC while writing Parquet (injected: we cannot fill a disk here)."""
    layout = DataLayout(tmp_path)
    calls = {"n": 0}
    original = land_module.write_parquet_atomically

    def failing_write(table, path, mode=None):
        calls["n"] += 1
        if calls["n"] == 3:
            import pyarrow.parquet as pq

            real = pq.write_table

            def broken(*args, **kwargs):
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr(pq, "write_table", broken)
            try:
                return original(table, path, mode=mode)
            finally:
                monkeypatch.setattr(pq, "write_table", real)
        return original(table, path, mode=mode)

    monkeypatch.setattr(land_module, "write_parquet_atomically", failing_write)
    with pytest.raises(OSError, match="No space left"):
        land_otel([Path(small_org.otel_dir)], layout)
    leftovers = [p for p in (tmp_path / "landing").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []
    monkeypatch.setattr(land_module, "write_parquet_atomically", original)
    summary = land_otel([Path(small_org.otel_dir)], layout)
    rows, distinct = duckdb.sql(
        f"select count(*), count(distinct event_id) from read_parquet('{layout.otel_events}/*/*.parquet')"
    ).fetchall()[0]
    assert rows == distinct == small_org.events
    assert summary.records_landed <= small_org.events
