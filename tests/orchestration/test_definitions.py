import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from configuration.settings import Secret, Settings
from ingestion.paths import DataLayout
from orchestration.definitions import build_definitions
from orchestration.defs.billing.assets import REPORTS
from orchestration.defs.compliance_api.assets import ENTITIES
from orchestration.defs.dbt.assets import warehouse_dbt_assets
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.jobs import PIPELINE_JOB_NAME
from orchestration.defs.resources import SettingsResource, dbt_executable
from warehouse.build import dbt_arguments

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_dagster_definitions_validate_from_the_repository_root(tmp_path: Path) -> None:
    """`dagster definitions validate` finds the code location through pyproject.toml."""
    environment = {**os.environ, "COWORK_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).parent / "dagster"
    completed = subprocess.run(
        [str(dagster), "definitions", "validate"],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "All code locations passed validation" in completed.stdout + completed.stderr


def test_assets_and_lineage() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    # dbt assets are keyed by schema (= folder) and name, e.g. marts/fct_cost_daily.
    models_dir = REPOSITORY_ROOT / "dbt_project" / "models"
    dbt_models = {
        f"{path.relative_to(models_dir).parts[0]}/{path.stem}" for path in models_dir.rglob("*.sql")
    }
    seeds = {f"reference/{path.stem}" for path in (models_dir.parent / "seeds").glob("*.csv")}
    assert keys == {
        "otel/events",
        "otel/metrics",
        "otel/content",
        *(f"compliance_api/{entity}" for entity in ENTITIES),
        *(f"billing/{report}" for report in REPORTS),
        *dbt_models,
        *seeds,
        "serving/warehouse",
        "reports/cost",
        "alerts/deliveries",
    }
    assert {"marts/dim_users", "marts/fct_cost_daily", "reference/team_budgets"} <= keys
    # The landed table's key is the dbt source's key: lineage joins with no glue.
    staging = dg.AssetKey(["staging", "stg_otel__events"])
    assert dg.AssetKey(["otel", "events"]) in graph.get(staging).parent_keys
    users = dg.AssetKey(["staging", "stg_compliance_api__users"])
    assert dg.AssetKey(["compliance_api", "users"]) in graph.get(users).parent_keys
    marts = {key for key in keys if key.startswith("marts/")}
    serving_parents = graph.get(dg.AssetKey(["serving", "warehouse"])).parent_keys
    assert {key.to_user_string() for key in serving_parents} == marts
    checks = {check.name for check in graph.asset_check_keys}
    assert "unique_stg_otel__events_event_id" in checks
    assert "assert_fct_cost_daily_matches_staging_cost" in checks
    assert {"quarantine_rate", "no_future_timestamps"} <= checks
    assert {"otel_events_freshness", "compliance_activities_freshness"} <= checks


def test_pipeline_job_and_schedule_exist() -> None:
    defs = build_definitions()
    job = defs.resolve_job_def(PIPELINE_JOB_NAME)
    assert job is not None
    assert defs.resolve_schedule_def("hourly_pipeline").cron_schedule == "0 * * * *"


def test_the_cost_report_has_its_own_daily_schedule() -> None:
    defs = build_definitions()
    report = dg.AssetKey(["reports", "cost"])
    graph = defs.resolve_asset_graph()
    assert graph.get(report).parent_keys == {dg.AssetKey(["serving", "warehouse"])}
    schedule = defs.resolve_schedule_def("daily_cost_report")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "UTC")
    assert defs.resolve_job_def(schedule.job_name).asset_layer.selected_asset_keys == {report}
    # The hourly pipeline does not rewrite the reports.
    pipeline = defs.resolve_job_def(PIPELINE_JOB_NAME)
    assert report not in pipeline.asset_layer.selected_asset_keys


def test_new_otel_files_sensor_requests_a_run_only_on_change(tmp_path) -> None:
    from orchestration.defs.otel.sensors import new_otel_files
    from orchestration.defs.resources import SettingsResource

    settings = SettingsResource(data_dir=str(tmp_path / "data"), otel_dirs=[str(tmp_path)])
    live = tmp_path / "logs.jsonl"
    live.write_text("{}\n")
    first = new_otel_files(dg.build_sensor_context(), settings=settings)
    assert isinstance(first, dg.RunRequest)
    context = dg.build_sensor_context(cursor=_cursor_after(new_otel_files, tmp_path))
    assert isinstance(new_otel_files(context, settings=settings), dg.SkipReason)
    with live.open("a") as handle:
        handle.write("{}\n")
    assert isinstance(new_otel_files(context, settings=settings), dg.RunRequest)


def _cursor_after(sensor, folder) -> str:
    import json

    from orchestration.defs.otel.sensors import snapshot

    return json.dumps(snapshot([folder]), sort_keys=True)


def test_the_pipeline_leaves_out_compliance_pulls_without_a_key(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    without = build_definitions(settings).resolve_job_def(PIPELINE_JOB_NAME)
    key = Secret("sk-ant-api01-test", "ANTHROPIC_COMPLIANCE_API_KEY")
    with_key = build_definitions(settings.with_changes(compliance_api_key=key)).resolve_job_def(
        PIPELINE_JOB_NAME
    )
    compliance = dg.AssetKey(["compliance_api", "users"])
    assert compliance not in without.asset_layer.selected_asset_keys
    assert compliance in with_key.asset_layer.selected_asset_keys
    # The same for the billing pulls: either billing key brings them in.
    billing = dg.AssetKey(["billing", "cost_totals"])
    assert billing not in with_key.asset_layer.selected_asset_keys
    analytics = Secret("sk-ant-api01-test", "ANTHROPIC_ANALYTICS_API_KEY")
    with_billing = build_definitions(settings.with_changes(analytics_api_key=analytics))
    assert (
        billing in with_billing.resolve_job_def(PIPELINE_JOB_NAME).asset_layer.selected_asset_keys
    )


def test_the_cli_instance_limits_pools_to_one_step(tmp_path) -> None:
    from cowork_analytics.pipeline import open_instance

    with open_instance(Settings(data_dir=tmp_path)) as instance:
        assert (tmp_path / "dagster" / "dagster.yaml").exists()
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


class _RecordingDbt(DbtCliResource):
    """dagster-dbt's resource, stopped at the command line the asset gives it."""

    def cli(self, args, **kwargs):
        _RecordingDbt.recorded = list(args)
        raise _Stopped


class _Stopped(Exception):
    pass


def test_a_pipeline_run_invokes_dbt_exactly_as_the_cli_build_does(tmp_path) -> None:
    # dbt reparses the whole project (8 s on the demo) when `--target` or `--vars` differ
    # from the invocation that wrote its partial parse state in the same target folder.
    settings = Settings(data_dir=tmp_path)
    result = dg.materialize(
        [warehouse_dbt_assets],
        resources={
            "dbt": _RecordingDbt(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "settings": SettingsResource.from_settings(settings),
        },
        raise_on_error=False,
    )
    assert not result.success
    assert _RecordingDbt.recorded == dbt_arguments("build", DataLayout(tmp_path), settings=settings)
