"""`mart_mismatches` on marts built straight from the ground truth, then spoiled one way each."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from configuration.settings import PrivacyMode
from governance.pseudonyms import identifier_columns_from_manifest
from simulation.generate import GenerationResult
from simulation.verify import SHOWN_PER_MART, mart_mismatches
from warehouse.publish import ServingPrivacy, publish_serving

EVERY_DAY = date(2000, 1, 1)  # compare the Compliance activity counts on every day
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PEPPER = b"a-verify-test-pepper-0123456789"
TOKENS = "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens"
PERFECT_MARTS = """
create schema marts;
create macro truth(name) as table
    select * from read_csv($root || '/' || name || '.csv', all_varchar = true, header = true);
create macro money(value) as cast(value as decimal(38, 9));
create table marts.dim_users as
    select md5(user_account_id) as user_key, user_account_id, user_email, full_name,
        current_team_name, true as is_in_directory
    from truth('users');
create table marts.fct_user_daily_activity as
    select md5(user_account_id) as user_key, cast(usage_date as date) as activity_date,
        team_name, sessions::int as sessions, prompts::int as prompts,
        cast(active_seconds::decimal(18, 3) / 60 as decimal(18, 3)) as active_minutes,
        api_requests::int as api_requests, api_errors::int as api_errors,
        tool_results::int as tool_calls, tool_rejections::int as tool_rejections,
        input_tokens::bigint as input_tokens, output_tokens::bigint as output_tokens,
        cache_read_tokens::bigint as cache_read_tokens,
        cache_creation_tokens::bigint as cache_creation_tokens,
        money(cost_usd) as cost_usd, money(cowork_cost_usd) as cowork_cost_usd,
        money(claude_code_cost_usd) as claude_code_cost_usd,
        compliance_activities::int as compliance_activities, logins::int as logins,
        chats_created::int as chats_created, projects_created::int as projects_created,
        files_uploaded::int as files_uploaded
    from truth('user_daily');
create table marts.fct_cost_daily as
    select md5(models.user_account_id) as user_key, cast(models.usage_date as date)
            as activity_date, models.model, days.team_name, models.api_requests::int
            as api_requests,
        models.input_tokens::bigint as input_tokens,
        models.output_tokens::bigint as output_tokens,
        models.cache_read_tokens::bigint as cache_read_tokens,
        models.cache_creation_tokens::bigint as cache_creation_tokens,
        models.cache_creation_5m_tokens::bigint as cache_creation_5m_tokens,
        models.cache_creation_1h_tokens::bigint as cache_creation_1h_tokens,
        money(models.cost_usd) as cost_usd, models.cost_usd_micros::bigint as cost_usd_micros,
        money(models.cost_usd) as recomputed_cost_usd, money(0) as cost_difference_usd,
        money(models.cache_savings_usd) as cache_savings_usd, true as is_priced
    from truth('user_model_daily') as models
    join truth('user_daily') as days using (usage_date, user_account_id);
create table marts.fct_sessions as
    select session_id, md5(user_account_id) as user_key, product,
        first_event_at::timestamptz as started_at, last_event_at::timestamptz as ended_at,
        cast(left(first_event_at, 10) as date) as activity_date, processes::int as processes,
        processes::int > 1 as is_resumed, prompts::int as prompts,
        api_requests::int as api_requests, api_errors::int as api_errors,
        tool_calls::int as tool_calls, tool_rejections::int as tool_rejections,
        active_seconds::decimal(18, 3) as active_seconds,
        input_tokens::bigint as input_tokens, output_tokens::bigint as output_tokens,
        cache_read_tokens::bigint as cache_read_tokens,
        cache_creation_tokens::bigint as cache_creation_tokens, money(cost_usd) as cost_usd
    from truth('sessions');
create table marts.fct_prompts as
    select prompt_id, session_id, md5(user_account_id) as user_key, model,
        prompted_at::timestamptz as prompted_at,
        cast(left(prompted_at, 10) as date) as activity_date,
        prompt_length::int as prompt_length, api_requests::int as api_requests,
        api_errors::int as api_errors, retry_attempts::int as retry_attempts,
        tool_calls::int as tool_calls, tool_rejections::int as tool_rejections,
        tool_failures::int as tool_failures, input_tokens::bigint as input_tokens,
        output_tokens::bigint as output_tokens, cache_read_tokens::bigint as cache_read_tokens,
        cache_creation_tokens::bigint as cache_creation_tokens, money(cost_usd) as cost_usd,
        wall_clock_ms::bigint as wall_clock_ms, is_failed::boolean as is_failed
    from truth('prompts');
create table marts.fct_cost_by_tool as
    select cast(usage_date as date) as activity_date, md5(user_account_id) as user_key,
        tool_name, coalesce(mcp_server_name, '') as mcp_server_name,
        attributed_requests::decimal(38, 9) as attributed_requests,
        tool_calls::int as tool_calls, money(cost_usd) as cost_usd
    from truth('cost_by_tool');
create table marts.fct_team_cost_monthly as
    select team_name, cast(date_trunc('month', cast(usage_date as date)) as date) as month,
        sum(money(cost_usd)) as spend_usd
    from truth('team_daily') group by all;
create table marts.fct_api_requests as
    select user_key, case when request = 0 then cost_usd else 0 end as cost_usd
    from (
        select md5(user_account_id) as user_key, money(cost_usd) as cost_usd,
            unnest(range(api_requests::bigint)) as request
        from truth('user_daily')
    );
create table marts.fct_tool_calls as
    select md5(user_account_id) as user_key,
        unnest(range(tool_results::bigint + tool_rejections::bigint)) as tool_call
    from truth('user_daily');
"""


@pytest.fixture
def marts(small_org: GenerationResult, tmp_path: Path) -> tuple[Path, Path]:
    """A serving database whose marts are the ground truth itself."""
    truth_dir = Path(small_org.output_dir) / "ground_truth"
    serving = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(serving)) as connection:
        connection.execute(f"set variable root = '{truth_dir}'")
        connection.execute(PERFECT_MARTS.replace("$root", "getvariable('root')"))
    return serving, truth_dir


def _spoil(serving: Path, sql: str) -> None:
    with duckdb.connect(str(serving)) as connection:
        connection.execute(sql)


def test_marts_equal_to_the_ground_truth_have_no_mismatch(marts) -> None:
    serving, truth_dir = marts
    assert mart_mismatches(serving, truth_dir, activities_since=EVERY_DAY) == []


def test_float_noise_and_minute_rounding_are_no_mismatch(marts) -> None:
    serving, truth_dir = marts
    _spoil(
        serving,
        "update marts.fct_sessions set cost_usd = cost_usd + 0.0000004"
        " where session_id = (select min(session_id) from marts.fct_sessions);"
        "update marts.fct_user_daily_activity set active_minutes = active_minutes + 0.0004"
        " where activity_date = (select min(activity_date) from marts.fct_user_daily_activity)",
    )
    assert mart_mismatches(serving, truth_dir, activities_since=EVERY_DAY) == []


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        pytest.param(
            "update marts.fct_cost_daily set cost_usd = cost_usd + 0.000002"
            " where model = 'claude-opus-5'",
            "marts.fct_cost_daily: (",
            id="reported cost off by 2 micro-dollars",
        ),
        pytest.param(
            "update marts.fct_cost_daily set recomputed_cost_usd = recomputed_cost_usd"
            " + 0.000000002 where model = 'claude-opus-5'",
            "recomputed_cost_usd: ",
            id="recomputed cost off by 2 nano-dollars",
        ),
        pytest.param(
            "update marts.fct_cost_daily set cache_savings_usd = 0",
            "cache_savings_usd: 0E-9 != ",
            id="no cache savings",
        ),
        pytest.param(
            "delete from marts.fct_sessions where session_id"
            " = (select min(session_id) from marts.fct_sessions)",
            "marts.fct_sessions: missing row (",
            id="a session missing",
        ),
        pytest.param(
            "insert into marts.fct_prompts (prompt_id, cost_usd) values ('extra', 0)",
            "marts.fct_prompts: row not in the ground truth ('extra',)",
            id="a prompt too many",
        ),
        pytest.param(
            "update marts.fct_user_daily_activity set team_name = 'Finance'",
            "team_name: Finance != ",
            id="the wrong team",
        ),
        pytest.param(
            "update marts.fct_user_daily_activity set active_minutes = active_minutes + 0.001",
            "active_minutes: ",
            id="a millisecond too many per minute",
        ),
        pytest.param(
            "update marts.fct_prompts set wall_clock_ms = wall_clock_ms + 1",
            "wall_clock_ms: ",
            id="wall clock off by a millisecond",
        ),
        pytest.param(
            "update marts.fct_sessions set started_at = started_at + interval 1 millisecond",
            "epoch_ms(mart.started_at): ",
            id="start off by a millisecond",
        ),
        pytest.param(
            "update marts.fct_cost_by_tool set mcp_server_name = null",
            "marts.fct_cost_by_tool: missing row (",
            id="server names null instead of empty",
        ),
        pytest.param(
            "update marts.dim_users set user_account_id = null"
            " where user_key = (select min(user_key) from marts.dim_users)",
            "marts.dim_users: user_key ",
            id="a person left unresolved",
        ),
        pytest.param(
            "update marts.dim_users set current_team_name = 'Legal'",
            "current_team_name: Legal != ",
            id="the wrong current team",
        ),
        pytest.param(
            "update marts.fct_user_daily_activity set logins = 0",
            "logins: 0 != ",
            id="logins lost",
        ),
        pytest.param(
            "delete from marts.fct_tool_calls where tool_call = 0",
            "marts.fct_tool_calls: total count(*): ",
            id="tool calls missing",
        ),
        pytest.param(
            "drop table marts.fct_cost_by_tool",
            "marts.fct_cost_by_tool: cannot be read: ",
            id="a mart missing",
        ),
    ],
)
def test_each_kind_of_difference_is_reported(marts, spoil: str, expected: str) -> None:
    serving, truth_dir = marts
    _spoil(serving, spoil)
    mismatches = mart_mismatches(serving, truth_dir, activities_since=EVERY_DAY)
    assert any(expected in line for line in mismatches), mismatches


def test_a_few_differences_per_mart_are_shown_with_a_count(marts) -> None:
    serving, truth_dir = marts
    _spoil(serving, "update marts.fct_prompts set tool_failures = tool_failures + 1")
    mismatches = mart_mismatches(serving, truth_dir, activities_since=EVERY_DAY)
    assert len(mismatches) == SHOWN_PER_MART + 1
    assert mismatches[-1].startswith("marts.fct_prompts: ... and ")


def test_activity_before_the_back_fill_is_not_compared(marts, tmp_path: Path) -> None:
    """GIVEN a period older than the first pull's back-fill (the default), WHEN the warehouse
    has no Compliance activity for it, THEN that is no mismatch."""
    serving, truth_dir = marts
    _spoil(
        serving,
        "update marts.fct_user_daily_activity set compliance_activities = 0, logins = 0,"
        " chats_created = 0",
    )
    # A sign-in on a day without any other use: only the Compliance side has that day.
    copied = tmp_path / "ground_truth"
    shutil.copytree(truth_dir, copied)
    with (copied / "user_daily.csv").open() as handle:
        first = next(csv.DictReader(handle))
    quiet_day = {column: "0" for column in first} | {
        "usage_date": "2026-03-01",
        "user_account_id": first["user_account_id"],
        "team_name": first["team_name"],
        "compliance_activities": "1",
        "logins": "1",
    }
    with (copied / "user_daily.csv").open("a", newline="") as handle:
        csv.DictWriter(handle, list(first)).writerow(quiet_day)
    assert mart_mismatches(serving, copied) == []  # the small organisation is in March 2026
    mismatches = mart_mismatches(serving, copied, activities_since=EVERY_DAY)
    assert any("missing row" in line and "2026-03-01" in line for line in mismatches)
    assert any("compliance_activities: 0 != " in line for line in mismatches)


def test_a_planted_cost_spike_must_be_flagged_with_its_model(marts, tmp_path: Path) -> None:
    """GIVEN a planted spike in the ground truth, THEN fct_cost_anomalies must flag that
    person's day, at that cost and with that model; other flagged days are no mismatch."""
    serving, truth_dir = marts
    copied = tmp_path / "ground_truth"
    shutil.copytree(truth_dir, copied)
    with (copied / "user_daily.csv").open() as handle:
        day = next(csv.DictReader(handle))
    with (copied / "planted_anomalies.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow(
            [day["usage_date"], day["user_account_id"], day["team_name"], "claude-opus-4-1",
             day["cost_usd"]]
        )  # fmt: skip
    _spoil(
        serving,
        "create table marts.fct_cost_anomalies (subject_kind varchar, user_key varchar,"
        " team_name varchar, activity_date date, cost_usd decimal(38, 9), top_model varchar)",
    )
    mismatches = mart_mismatches(serving, copied, activities_since=EVERY_DAY)
    assert mismatches == [
        "marts.fct_cost_anomalies: planted cost spike not flagged"
        f" ('{day['user_account_id']}', '{day['usage_date']}')"
    ]
    _spoil(
        serving,
        f"insert into marts.fct_cost_anomalies values"
        f" ('user', md5('{day['user_account_id']}'), '{day['team_name']}',"
        f" '{day['usage_date']}', {day['cost_usd']}, 'claude-opus-5'),"
        f" ('team', null, '{day['team_name']}', '{day['usage_date']}', 99, 'claude-opus-5')",
    )
    mismatches = mart_mismatches(serving, copied, activities_since=EVERY_DAY)
    assert len(mismatches) == 1 and "top_model: claude-opus-5 != claude-opus-4-1" in mismatches[0]
    _spoil(serving, "update marts.fct_cost_anomalies set top_model = 'claude-opus-4-1'")
    assert mart_mismatches(serving, copied, activities_since=EVERY_DAY) == []


def test_strict_marts_match_the_ground_truth_pseudonymised_with_their_pepper(
    marts, tmp_path: Path
) -> None:
    """GIVEN the marts published under privacy strict (the pipeline's publish, the columns
    the models declare `pii: identifier`), THEN they equal the ground truth whose people are
    pseudonymised with the same pepper, and differ from the raw or otherwise keyed truth.

    Regression: `cowork-analytics demo` under strict reported every person and person-day
    as a difference, comparing pseudonyms with account ids."""
    build, truth_dir = marts
    declared = identifier_columns_from_manifest(REPOSITORY_ROOT / "target" / "manifest.json")
    assert "user_email" in declared.get("marts.dim_users", []), "run `make manifest`"
    with duckdb.connect(str(build), read_only=True) as connection:
        present = set(
            connection.execute(
                "select table_schema || '.' || table_name, column_name"
                " from information_schema.columns"
            ).fetchall()
        )
    # These marts have the compared columns only (no surrogate ids).
    identifiers = {
        table: [column for column in columns if (table, column) in present]
        for table, columns in declared.items()
    }
    strict = publish_serving(
        build,
        tmp_path / "strict.duckdb",
        privacy=ServingPrivacy(PrivacyMode.STRICT, PEPPER, identifiers),
    ).path
    assert mart_mismatches(strict, truth_dir, activities_since=EVERY_DAY, pepper=PEPPER) == []
    for pepper in (None, b"another-installation-pepper-0123"):
        mismatches = mart_mismatches(strict, truth_dir, activities_since=EVERY_DAY, pepper=pepper)
        assert any(line.startswith("marts.dim_users: missing person") for line in mismatches)
