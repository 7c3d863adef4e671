"""D2: the new-files sensor when the daemon crashes at tick created, run created, run launched.

The sensor's cursor only says which file sizes and times it has seen; the landing manifest,
written by the run, says what has landed. A crash before the cursor is saved re-evaluates
with the old cursor and must ask again under the same run key, so Dagster keeps one run per
key; and however often the landing runs for a request, each record lands once.

The daemon's part is reduced to its run-key rule, as `_get_or_create_sensor_run` in
dagster/_daemon/sensor.py applies it: a run already created for the key is launched if it
never started and skipped otherwise. Runs are real runs of `otel_landing_job` in a test
instance, created by `create_run_for_job` and executed in this process (`execute_run`),
so the instance's runs filtered by the `dagster/run_key` tag are what is asserted.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run

from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from orchestration.defs.jobs import otel_landing_job
from orchestration.defs.otel.assets import EVENTS, otel_landing
from orchestration.defs.otel.sensors import new_otel_files
from orchestration.defs.resources import QuarantineThresholdsResource, SettingsResource
from simulation.generate import GenerationResult

RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
NEW_DATA = ("records_landed", "metric_points_landed", "bytes_read")
NOTHING_NEW = dict.fromkeys(NEW_DATA, 0)


# --------------------------------------------------------------------------- the daemon


class Daemon:
    """What the sensor daemon does with a tick, reduced to cursors and run keys."""

    def __init__(self, instance: dg.DagsterInstance, settings: SettingsResource):
        self.instance = instance
        self.settings = settings
        definitions = dg.Definitions(
            assets=[otel_landing],
            jobs=[otel_landing_job],
            sensors=[new_otel_files],
            resources={"settings": settings, "otel_quarantine": QuarantineThresholdsResource()},
        )
        self.job = definitions.resolve_job_def(otel_landing_job.name)

    def evaluate(self, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        """One sensor evaluation: its run requests and the cursor the tick would save."""
        context = dg.build_sensor_context(
            cursor=cursor, instance=self.instance, resources={"settings": self.settings}
        )
        data = new_otel_files.evaluate_tick(context)
        return list(data.run_requests or []), data.cursor

    def runs(self, run_key: str) -> list[dg.DagsterRun]:
        """Runs in the instance under this run key."""
        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key})))

    def create_run(self, request: dg.RunRequest) -> dg.DagsterRun:
        """The run of this request's key: the existing one, else a new one (not started)."""
        existing = self.runs(request.run_key)
        if existing:
            return existing[0]
        tags = {**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: "new_otel_files"}
        return self.instance.create_run_for_job(job_def=self.job, run_config=IN_PROCESS, tags=tags)

    def launch(self, run: dg.DagsterRun, *, succeeds: bool = True) -> bool:
        """Execute a run that never started; a started or finished one is left alone."""
        current = self.instance.get_run_by_id(run.run_id)
        if current.status != dg.DagsterRunStatus.NOT_STARTED:
            return False
        result = execute_run(InMemoryJob(self.job), current, self.instance)
        assert result.success == succeeds
        return True

    def submit(self, request: dg.RunRequest, *, succeeds: bool = True) -> dg.DagsterRun:
        """Create (or find) the request's run and launch it unless it already started."""
        run = self.create_run(request)
        self.launch(run, succeeds=succeeds)
        return self.instance.get_run_by_id(run.run_id)

    def landed_by(self, run: dg.DagsterRun) -> dict[str, int]:
        """The landing summary the run recorded on its `otel/events` materialization."""
        for entry in self.instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            materialization = entry.asset_materialization
            if materialization is not None and materialization.asset_key == EVENTS:
                return {key: value.value for key, value in materialization.metadata.items()}
        raise AssertionError(f"run {run.run_id} materialized no {EVENTS.to_user_string()}")


# --------------------------------------------------------------------------- the collector


def _complete(data: bytes) -> bytes:
    """The whole lines of what a collector has written so far."""
    return data[: data.rfind(b"\n") + 1]


def _counts(data: bytes) -> tuple[int, int, int]:
    """(messages, log records, metric points) in the whole lines of `data`."""
    messages = records = points = 0
    for line in _complete(data).splitlines():
        message = json.loads(line)
        messages += 1
        for resource_logs in message.get("resourceLogs", []):
            for scope_logs in resource_logs["scopeLogs"]:
                records += len(scope_logs["logRecords"])
        for resource_metrics in message.get("resourceMetrics", []):
            for scope_metrics in resource_metrics["scopeMetrics"]:
                for metric in scope_metrics["metrics"]:
                    points += len(metric["sum"]["dataPoints"])
    return messages, records, points


def _half(data: bytes) -> bytes:
    """The first half of the lines, then half of the next line (a flush in progress)."""
    lines = data.splitlines(keepends=True)
    middle = len(lines) // 2
    return b"".join(lines[:middle]) + lines[middle][: len(lines[middle]) // 2]


@dataclass
class Collector:
    """The small organisation's files, written to the watched folder in two steps.

    `begin` is the folder at the crash: the first rotated log file, the live file holding
    half of what becomes the second rotated file (its last line cut mid-way) and half the
    metrics file. `finish` is what the collector writes after: the live file completes and
    is rotated, a new live file appears, the metrics file completes.
    """

    source: Path
    folder: Path

    def __post_init__(self) -> None:
        self.rotated = sorted(self.source.glob("logs-*.jsonl"))
        assert len(self.rotated) >= 2, "the fixture should rotate its log file at least twice"
        self.live = self.folder / "logs.jsonl"
        self.metrics = self.folder / "metrics.jsonl"

    def begin(self) -> None:
        self.folder.mkdir(parents=True)
        shutil.copy(self.rotated[0], self.folder / self.rotated[0].name)
        self.live.write_bytes(_half(self.rotated[1].read_bytes()))
        self.metrics.write_bytes(_half((self.source / "metrics.jsonl").read_bytes()))

    def finish(self) -> None:
        second = self.rotated[1].read_bytes()
        with self.live.open("ab") as handle:
            handle.write(second[self.live.stat().st_size :])
        self.live.rename(self.folder / self.rotated[1].name)
        for path in self.rotated[2:]:
            shutil.copy(path, self.folder / path.name)
        shutil.copy(self.source / "logs.jsonl", self.live)
        metrics = (self.source / "metrics.jsonl").read_bytes()
        with self.metrics.open("ab") as handle:
            handle.write(metrics[self.metrics.stat().st_size :])

    def write_all(self) -> None:
        self.begin()
        self.finish()

    def files(self) -> Iterator[Path]:
        yield from sorted(self.folder.iterdir())

    def complete_bytes(self) -> int:
        """Bytes of whole messages in the folder now."""
        return sum(len(_complete(path.read_bytes())) for path in self.files())

    def counts(self) -> tuple[int, int, int]:
        """(messages, log records, metric points) of whole messages in the folder now."""
        totals = [_counts(path.read_bytes()) for path in self.files()]
        return tuple(sum(column) for column in zip(*totals, strict=True))


@pytest.fixture
def collector(small_org: GenerationResult, tmp_path: Path) -> Collector:
    return Collector(Path(small_org.otel_dir), tmp_path / "otel")


@pytest.fixture
def settings(collector: Collector, tmp_path: Path) -> SettingsResource:
    return SettingsResource(data_dir=str(tmp_path / "data"), otel_dirs=[str(collector.folder)])


@pytest.fixture
def daemon(settings: SettingsResource) -> Iterator[Daemon]:
    with dg.instance_for_test() as instance:
        yield Daemon(instance, settings)


def _layout(daemon: Daemon) -> DataLayout:
    return daemon.settings.layout()


def _landed(layout: DataLayout) -> dict[str, int]:
    """Landed rows, distinct ids, and distinct source messages (file fingerprint, offset)."""
    with duckdb.connect() as connection:
        events, event_ids = connection.execute(
            f"select count(*), count(distinct event_id)"
            f" from read_parquet('{layout.otel_events}/*/*.parquet')"
        ).fetchone()
        points, point_ids = connection.execute(
            f"select count(*), count(distinct metric_point_id)"
            f" from read_parquet('{layout.otel_metrics}/*/*.parquet')"
        ).fetchone()
        (messages,) = connection.execute(
            f"select count(*) from (select source_file_fingerprint, source_byte_offset"
            f" from read_parquet('{layout.otel_events}/*/*.parquet')"
            f" union select source_file_fingerprint, source_byte_offset"
            f" from read_parquet('{layout.otel_metrics}/*/*.parquet'))"
        ).fetchone()
    return {
        "events": events,
        "event_ids": event_ids,
        "points": points,
        "point_ids": point_ids,
        "messages": messages,
    }


def _new_data(summary: dict) -> dict[str, int]:
    """What a landing (its summary, or its run's metadata) added."""
    return {key: summary[key] for key in NEW_DATA}


def _manifest_offsets(layout: DataLayout) -> int:
    with sqlite3.connect(layout.manifest) as connection:
        return connection.execute("select sum(landed_offset) from otel_files").fetchone()[0]


def _assert_landed_once(
    collector: Collector, small_org: GenerationResult, layout: DataLayout
) -> None:
    """Every whole message of the folder landed exactly once, nothing skipped."""
    messages, records, points = collector.counts()
    assert records == small_org.events  # the folder holds the whole organisation now
    assert _landed(layout) == {
        "events": records,
        "event_ids": records,
        "points": points,
        "point_ids": points,
        "messages": messages,
    }
    assert _manifest_offsets(layout) == collector.complete_bytes()


# --------------------------------------------------------------------------- the tests


def test_crash_after_tick_created_asks_again_under_the_same_run_key(
    collector: Collector, daemon: Daemon, small_org: GenerationResult
) -> None:
    # GIVEN a tick that evaluated the sensor, then the daemon died: no run, no cursor saved
    collector.write_all()
    (first,), cursor = daemon.evaluate(None)
    # WHEN the daemon evaluates again with the cursor it had (none)
    (again,), cursor_again = daemon.evaluate(None)
    # THEN the same request comes back, so the run-key rule leaves one run for both
    assert (again.run_key, again.tags) == (first.run_key, first.tags)
    assert cursor_again == cursor
    run = daemon.submit(first)
    assert daemon.submit(again).run_id == run.run_id
    assert [r.status for r in daemon.runs(first.run_key)] == [dg.DagsterRunStatus.SUCCESS]
    assert daemon.landed_by(run)["records_landed"] == small_org.events
    _assert_landed_once(collector, small_org, _layout(daemon))
    # and the saved cursor then sees nothing new
    requests, _ = daemon.evaluate(cursor)
    assert requests == []


def test_crash_after_run_created_launches_that_run_once(
    collector: Collector, daemon: Daemon, small_org: GenerationResult
) -> None:
    # GIVEN a run created for the request (not launched) when the daemon died
    collector.write_all()
    (request,), cursor = daemon.evaluate(None)
    created = daemon.create_run(request)
    assert daemon.instance.get_run_by_id(created.run_id).status == dg.DagsterRunStatus.NOT_STARTED
    # WHEN the daemon evaluates again with the old cursor and submits what it gets
    (again,), _ = daemon.evaluate(None)
    assert again.run_key == request.run_key
    run = daemon.submit(again)
    # THEN the run created before the crash is the one launched, and the only one
    assert run.run_id == created.run_id
    assert [r.run_id for r in daemon.runs(request.run_key)] == [created.run_id]
    assert daemon.landed_by(run)["records_landed"] == small_org.events
    # AND landing that request a second time (a retried or duplicated run) adds nothing
    assert not daemon.launch(run)
    repeated = land_otel([collector.folder], _layout(daemon))
    assert _new_data(repeated.as_dict()) == NOTHING_NEW
    _assert_landed_once(collector, small_org, _layout(daemon))
    assert daemon.evaluate(cursor)[0] == []


def test_crash_after_run_launched_skips_the_key_and_a_new_run_lands_nothing(
    collector: Collector, daemon: Daemon, small_org: GenerationResult
) -> None:
    # GIVEN a run launched and finished (everything landed) before the cursor was saved
    collector.write_all()
    (request,), _ = daemon.evaluate(None)
    run = daemon.submit(request)
    assert daemon.landed_by(run)["records_landed"] == small_org.events
    # WHEN the daemon evaluates again with the old cursor
    (again,), _ = daemon.evaluate(None)
    # THEN the request is skipped by its run key: still one run
    assert daemon.submit(again).run_id == run.run_id
    assert len(daemon.runs(request.run_key)) == 1
    # AND a new request (the files touched, nothing appended) runs and lands nothing new
    for path in collector.files():
        path.touch()
    (touched,), _ = daemon.evaluate(None)
    assert touched.run_key != request.run_key
    rerun = daemon.submit(touched)
    assert rerun.run_id != run.run_id
    assert _new_data(daemon.landed_by(rerun)) == NOTHING_NEW
    _assert_landed_once(collector, small_org, _layout(daemon))


@pytest.mark.parametrize("crash", ["tick created", "run created", "run launched"])
def test_files_growing_between_crash_and_retry_land_exactly_the_new_bytes(
    crash: str, collector: Collector, daemon: Daemon, small_org: GenerationResult
) -> None:
    # GIVEN the collector mid-way (a partial last line in two files) and a tick for it
    collector.begin()
    _, records_before, points_before = collector.counts()
    bytes_before = collector.complete_bytes()
    assert 0 < records_before < small_org.events
    (request,), _ = daemon.evaluate(None)
    # ... and a daemon that died at the given point, before saving the cursor
    stale = None
    if crash in ("run created", "run launched"):
        stale = daemon.create_run(request)
    if crash == "run launched":
        daemon.launch(stale)
        assert _new_data(daemon.landed_by(stale)) == {
            "records_landed": records_before,
            "metric_points_landed": points_before,
            "bytes_read": bytes_before,
        }
    # WHEN the files grow (appends, a rotation, a new live file) before the daemon is back
    collector.finish()
    # ... which resumes the interrupted tick (launching a run it created but never launched)
    resumed = daemon.launch(stale) if crash == "run created" else False
    # ... and evaluates with the old cursor
    (retry,), cursor = daemon.evaluate(None)
    # THEN the grown files are a new request under a new key, and one run per key
    assert retry.run_key != request.run_key
    run = daemon.submit(retry)
    assert len(daemon.runs(retry.run_key)) == 1
    assert len(daemon.runs(request.run_key)) == (0 if crash == "tick created" else 1)
    # AND the new run lands exactly the bytes no run landed before it
    _, records_after, points_after = collector.counts()
    landed = _new_data(daemon.landed_by(run))
    if crash == "run launched":
        assert landed == {
            "records_landed": records_after - records_before,
            "metric_points_landed": points_after - points_before,
            "bytes_read": collector.complete_bytes() - bytes_before,
        }
    elif resumed:  # the resumed run already saw the grown files
        assert landed == NOTHING_NEW
    else:
        assert landed["records_landed"] == small_org.events
    _assert_landed_once(collector, small_org, _layout(daemon))
    assert daemon.evaluate(cursor)[0] == []


def test_a_failed_landing_is_asked_again_on_every_tick_until_it_lands(
    collector: Collector, daemon: Daemon, small_org: GenerationResult
) -> None:
    # GIVEN a tick for the files and its run failing to land (the landing folder is a file)
    collector.write_all()
    (request,), cursor = daemon.evaluate(None)
    blocker = _layout(daemon).root / "landing"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    assert daemon.submit(request, succeeds=False).status == dg.DagsterRunStatus.FAILURE
    # WHEN the next tick sees the same files
    (retry,), retry_cursor = daemon.evaluate(cursor)
    # THEN it asks again, under a key of its own (the failed run holds the old one), and a
    # tick re-evaluated after a crash asks the same
    assert retry.run_key != request.run_key
    assert [again.run_key for again in daemon.evaluate(cursor)[0]] == [retry.run_key]
    # ... and again after each failure
    daemon.submit(retry, succeeds=False)
    (third,), third_cursor = daemon.evaluate(retry_cursor)
    assert third.run_key not in (request.run_key, retry.run_key)
    # ... but not while that run is not over, nor when Dagster's run retries will re-run it
    stalled = daemon.create_run(third)
    assert daemon.evaluate(third_cursor)[0] == []
    daemon.instance.add_run_tags(stalled.run_id, {"dagster/will_retry": "true"})
    daemon.instance.report_run_failed(daemon.instance.get_run_by_id(stalled.run_id))
    assert daemon.evaluate(third_cursor)[0] == []
    daemon.instance.add_run_tags(stalled.run_id, {"dagster/will_retry": "false"})
    (fourth,), fourth_cursor = daemon.evaluate(third_cursor)
    # AND once a run has landed the files, nothing more is asked and each record landed once
    blocker.unlink()
    run = daemon.submit(fourth)
    assert daemon.landed_by(run)["records_landed"] == small_org.events
    _assert_landed_once(collector, small_org, _layout(daemon))
    assert daemon.evaluate(fourth_cursor)[0] == []
