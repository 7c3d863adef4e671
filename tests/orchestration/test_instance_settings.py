"""A Dagster home set up by an older release still starts, with its run history."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from configuration.settings import Settings
from cowork_analytics.pipeline import DAGSTER_SETTINGS, prepare_dagster_home
from orchestration.lib.instance_settings import NOTE, drop_removed_event_log_storage

# What deploy/dagster/dagster.yaml selected before issue 16.
OLD_BLOCK = """
event_log_storage:
  module: orchestration.lib.pool_storage
  class: AtomicClaimSqliteEventLogStorage
  config:
    dagster_home:
      env: DAGSTER_HOME

"""


@dg.op
def _noop() -> None:
    pass


@dg.job
def _tiny_job() -> None:
    _noop()


def test_an_old_home_keeps_its_settings_and_run_history(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "data" / "dagster"
    home.mkdir(parents=True)
    settings = home / "dagster.yaml"
    # A run recorded where the old storage kept it too: Dagster's default folder.
    shutil.copyfile(DAGSTER_SETTINGS, settings)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        run_id = _tiny_job.execute_in_process(instance=instance).run_id
    current = DAGSTER_SETTINGS.read_text()
    cut = current.index("concurrency:")
    old = current[:cut] + OLD_BLOCK + current[cut:]
    settings.write_text(old)

    prepare_dagster_home(Settings(data_dir=tmp_path / "data"))

    assert settings.read_text() == old.replace(OLD_BLOCK, "\n" + NOTE)
    assert (home / "dagster.yaml.before-upgrade").read_text() == old
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).is_success
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert not drop_removed_event_log_storage(settings)  # once is enough


@pytest.mark.parametrize(
    "block",
    [
        pytest.param("", id="no storage block"),
        pytest.param(
            "event_log_storage:\n  module: dagster_postgres\n  class: PostgresEventLogStorage\n",
            id="someone else's storage",
        ),
    ],
)
def test_other_settings_are_left_alone(tmp_path: Path, block: str) -> None:
    settings = tmp_path / "dagster.yaml"
    settings.write_text(f"telemetry:\n  enabled: false\n{block}run_retries:\n  enabled: true\n")
    before = settings.read_text()
    assert not drop_removed_event_log_storage(settings)
    assert settings.read_text() == before
    assert not drop_removed_event_log_storage(tmp_path / "absent" / "dagster.yaml")
