"""The portability lint (tools/check_portable_sql.py) flags DuckDB-only SQL, and only that.

Each rule is shown a bad line and must name it at the right line; the portable spellings,
comments and string literals must pass. No dbt run: the lint reads text.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tools" / "check_portable_sql.py"
FINDING_LINE = re.compile(
    r"^(?P<path>\S+\.sql):(?P<line>\d+): (?P<rule>[a-z][a-z-]*) .+ \(use .+\)$"
)


def load_checker() -> ModuleType:
    # tools/ holds scripts, not a package: load the script from its path.
    spec = importlib.util.spec_from_file_location("check_portable_sql", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


checker = load_checker()


def findings(tmp_path: Path, sql: str) -> list[tuple[int, str]]:
    """(line, rule id) of every finding in `sql`, written as a model file."""
    path = tmp_path / "model.sql"
    path.write_text(sql, encoding="utf-8")
    return [(finding.line, finding.rule_id) for finding in checker.check_file(path)]


def messages(tmp_path: Path, sql: str) -> list[str]:
    path = tmp_path / "model.sql"
    path.write_text(sql, encoding="utf-8")
    return [finding.message for finding in checker.check_file(path)]


def on_line_three(select_item: str) -> str:
    """A model whose third line is `select_item`."""
    return f"select\n    a,\n    {select_item}\nfrom t\n"


BAD_LINES = [
    ("double-colon-cast", "b::bigint as b"),
    ("timestamp-tz-type", "cast(b as timestamp with time zone) as b"),
    ("timestamp-tz-type", "cast(b as timestamptz) as b"),
    ("duckdb-type", "cast(b as hugeint) as b"),
    ("duckdb-type", "cast(b as ubigint) as b"),
    ("duckdb-type", "cast(b as utinyint) as b"),
    ("string-type", "cast(b as varchar) as b"),
    ("string-type", "cast(b as varchar(20)) as b"),
    ("string-type", "try_cast(b as text) as b"),
    ("string-type", "cast(cast(b as text) as date) as b"),
    ("star-modifier", "* exclude (b)"),
    ("star-modifier", "t.* replace (b + 1 as b)"),
    ("union-by-name", "b from t union all by name select a, b"),
    ("union-by-name", "b from t union by name select a, b"),
    ("percentile-function", "quantile_cont(b, 0.5) as p50"),
    ("percentile-function", "quantile_disc(b, 0.5) as p50"),
    ("percentile-function", "approx_quantile(b, 0.5) as p50"),
    ("percentile-function", "quantile(b, 0.5) as p50"),
    ("percentile-function", "median(b) as p50"),
    ("percentile-function", "percentile_disc(0.5) within group (order by b nulls last) as p50"),
    ("json-function", "json_extract_string(j, '$.b') as b"),
    ("json-function", "json_extract(j, '$.b') as b"),
    ("json-function", "json_value(j, '$.b') as b"),
    ("json-arrow", "j->>'b' as b"),
    ("json-arrow", "j -> '$.b' as b"),
    ("json-arrow", "j->0 as b"),
    ("list-function", "unnest(bs) as b"),
    ("list-function", "list_sum(bs) as b"),
    ("list-function", "list(b) as bs"),
    ("list-function", "string_split(b, ',') as bs"),
    ("list-function", "string_agg(b, ',') as bs"),
    ("list-function", "array_length(bs) as n"),
    ("list-function", "b from generate_series(1, 3) as s(b)"),
    ("list-function", "b from range(10) as r(b)"),
    ("regex-function", "regexp_replace(b, 'x', 'y') as b"),
    ("regex-function", "regexp_matches(b, 'x') as is_x"),
    ("regex-function", "regexp_full_match(b, 'x') as is_x"),
    ("regex-function", "regexp_like(b, 'x') as is_x"),
    ("regex-function", "regexp_extract(b, 'x') as x"),
    ("integer-division", "b // 2 as half"),
    ("epoch", "extract(epoch from b) as seconds"),
    ("epoch", "epoch(b) as seconds"),
    ("epoch", "epoch_ms(b) as ms"),
    ("epoch", "epoch_us(b) as us"),
    ("epoch", "date_part('epoch', b) as seconds"),
    ("datediff-unit", "{{ dbt.datediff('hour', 'a', 'b') }} as hours"),
    ("datediff-unit", '{{ dbt.datediff("minute", "a", "b") }} as minutes'),
    ("datediff-unit", "{{ dbt.datediff('second', 'a', 'b') }} as seconds"),
    ("datediff-unit", "{{ dbt.datediff('millisecond', 'a', 'b') }} as ms"),
    ("date-diff", "date_diff('day', a, b) as days"),
    ("date-diff", "datediff('hour', a, b) as hours"),
    ("safe-cast", "{{ dbt.safe_cast('b', api.Column.translate_type('integer')) }} as b"),
    ("date-format", "strftime(b, '%Y-%m') as month"),
    ("date-format", "strptime(b, '%Y-%m-%d') as day"),
    ("hash-function", "hash(b, c) as key"),
    ("backslash-in-string", "b like 'mcp\\_%' escape '\\' as is_mcp"),
    ("ignore-nulls", "first_value(b ignore nulls) over w as b"),
    ("ignore-nulls", "last_value(b) ignore nulls over w as b"),
    ("arg-max", "arg_max(b, c) as b"),
    ("arg-max", "arg_min(b, c) as b"),
    ("length-function", "strlen(b) as n"),
    ("length-function", "len(b) as n"),
    ("prefix-function", "starts_with(b, 'mcp__') as is_mcp"),
    ("prefix-function", "prefix(b, 'mcp__') as is_mcp"),
    ("prefix-function", "suffix(b, '.py') as is_python"),
    ("weekday", "dayofweek(b) as weekday"),
    ("weekday", "isodow(b) as weekday"),
    ("weekday", "weekday(b) as weekday"),
    ("weekday", "extract(dow from b) as weekday"),
    ("weekday", "date_part('isodow', b) as weekday"),
    ("null-order", "row_number() over (partition by k order by t) as n"),
    ("null-order", "row_number() over (partition by k order by t desc) as n"),
]


@pytest.mark.parametrize(("rule_id", "select_item"), BAD_LINES)
def test_each_rule_flags_its_bad_example_on_its_line(
    tmp_path: Path, rule_id: str, select_item: str
) -> None:
    assert findings(tmp_path, on_line_three(select_item)) == [(3, rule_id)]


PORTABLE_MODEL = """\
{{ config(materialized='table', meta={'dagster': {'ref': {'name': 'x'}}}) }}

{#- Jinja comments are not SQL: a::int, quantile_cont(x, 0.5), hash(x), order by a
    and json_extract(j, '$.a') may be discussed here. -#}
{# a single-line one: a // 2, strftime(a, '%Y') #}

-- depends_on: {{ ref('upstream') }}
-- and so may SQL comments: b::bigint, median(b), order by b, escape '\\'
with

/* block comments too: regexp_replace(a, 'x', 'y') and
   order by a */
source as (
    {{ deduplicate('upstream', 'id', 'snapshot_at desc nulls last, id asc nulls first') }}
),

final as (
    select
        cast(a as string) as a_text,
        cast(text as string) as note,
        text,
        source.text as body,
        range,
        cast(b as {{ timestamp_tz() }}) as b_at,
        cast(c as decimal(38, 9)) as c,
        try_cast(d as bigint) as d,
        {{ json_text('attributes_json', 'team.id') }} as team_id,
        {{ percentile('duration_ms', 0.5) }} as p50,
        {{ first_non_null('user_email') }} over latest_first as user_email,
        {{ weekday('activity_date') }} as weekday,
        {{ seconds_between('started_at', 'ended_at') }} as seconds,
        {{ epoch_seconds('event_at') }} as epoch_seconds,
        {{ dbt.datediff('day', 'started_at', 'ended_at') }} as days,
        {{ fingerprint(['a', 'b']) }} as fingerprint,
        {{ regex_matches('target', '(^|/)\\\\.ssh(/|$)') }} as is_ssh,
        xxhash64(a) as hashed,
        md5(a) as digest,
        count(*) filter (where b > 1) as big,
        max_by(a, b) as latest_a,
        min_by(a, b) as first_a,
        length(a) as a_length,
        left(a, 5) = 'mcp__' as is_mcp,
        cast(floor(a / 2) as bigint) as half,
        'a::b -> c // d order by e hash(f)' as literal,
        '{{ var("late_arrival_hours") }} hours' as lookback,
        sum(b) over (
            partition by k order by t asc nulls last rows unbounded preceding
        ) as running
    from source
    window latest_first as (partition by k order by t desc nulls first, id asc nulls last)
    qualify row_number() over (partition by k order by t desc nulls last) = 1
)

select * from final
order by a asc nulls last, b desc nulls first, {{ order_column }}
"""


def test_portable_forms_comments_and_literals_pass(tmp_path: Path) -> None:
    assert findings(tmp_path, PORTABLE_MODEL) == []


def test_json_arrow_only_outside_string_literals(tmp_path: Path) -> None:
    sql = "select\n    'a->b' as arrow_text,\n    '->' as arrow,\n    j->'k' as k\nfrom t\n"
    assert findings(tmp_path, sql) == [(4, "json-arrow")]


def test_text_is_flagged_only_as_a_cast_target(tmp_path: Path) -> None:
    sql = "select\n    text,\n    t.text,\n    cast(text as string) as s,\n    cast(a as text) as b\nfrom t\n"
    assert findings(tmp_path, sql) == [(5, "string-type")]


def test_range_is_flagged_only_as_a_function(tmp_path: Path) -> None:
    sql = (
        "select\n"
        "    range,\n"
        "    sum(a) over (order by b nulls last range between 1 preceding and current row) as s\n"
        "from range(3)\n"
    )
    assert findings(tmp_path, sql) == [(4, "list-function")]


def test_line_numbers_survive_multi_line_comments(tmp_path: Path) -> None:
    sql = (
        "{#- one\n    two\n    three -#}\n"  # lines 1-3
        "/* four\n   five */\n"  # lines 4-5
        "select a::int -- six: b::int\n"  # line 6
        "from t\n"
    )
    assert findings(tmp_path, sql) == [(6, "double-colon-cast")]


def test_double_dash_inside_a_string_is_not_a_comment(tmp_path: Path) -> None:
    assert findings(tmp_path, "select '--' || a::varchar as b from t\n") == [
        (1, "double-colon-cast")
    ]


def test_every_order_by_item_must_state_null_order(tmp_path: Path) -> None:
    sql = (
        "select a\n"
        "from t\n"
        "order by\n"
        "    a asc nulls last,\n"
        "    b desc,\n"  # line 5
        "    c\n"  # line 6
    )
    assert findings(tmp_path, sql) == [(5, "null-order"), (6, "null-order")]
    assert "`b desc`" in messages(tmp_path, sql)[0]


def test_order_by_clause_ends_at_frame_limit_qualify_union_and_parenthesis(
    tmp_path: Path,
) -> None:
    sql = (
        "select\n"
        "    sum(a) over (partition by k order by t rows between 1 preceding and current row),\n"
        "    sum(a) over (order by u range between 1 preceding and current row)\n"
        "from t\n"
        "qualify row_number() over (partition by k order by v) = 1\n"
        "order by w limit 10\n"
    )
    assert findings(tmp_path, sql) == [
        (2, "null-order"),
        (3, "null-order"),
        (5, "null-order"),
        (6, "null-order"),
    ]
    shown = [re.search(r"`([^`]*)`", message)[1] for message in messages(tmp_path, sql)]
    assert shown == ["t", "u", "v", "w"]


def test_within_group_and_named_windows_are_order_bys(tmp_path: Path) -> None:
    sql = (
        "select\n"
        "    percentile_cont(0.5) within group (order by a) as p50\n"
        "from t\n"
        "window w as (partition by k order by t asc)\n"
    )
    assert findings(tmp_path, sql) == [
        (2, "percentile-function"),
        (2, "null-order"),
        (4, "null-order"),
    ]


def test_pure_jinja_order_items_are_left_to_the_macro(tmp_path: Path) -> None:
    sql = "select a from t\norder by {{ order_by }}, {{ column }} desc\n"
    assert findings(tmp_path, sql) == [(2, "null-order")]
    assert "`{{ column }} desc`" in messages(tmp_path, sql)[0]


def test_order_by_in_a_jinja_block_ends_before_the_next_query(tmp_path: Path) -> None:
    sql = (
        "{% set days %}\n"
        "    select day from t order by day\n"  # line 2
        "{% endset %}\n"
        "with a as (select 1 as x), b as (select 2 as x)\n"
        "select * from a, b\n"
    )
    assert findings(tmp_path, sql) == [(2, "null-order")]
    assert "`day`" in messages(tmp_path, sql)[0]


def test_deduplicate_order_argument_must_state_null_order(tmp_path: Path) -> None:
    sql = (
        "with latest as (\n"
        "    {{ deduplicate('source', 'id', 'snapshot_at desc') }}\n"  # line 2
        "),\n"
        "rare as (\n"
        "    {{ deduplicate_rare(\n"
        "        'source', 'event_id', 'landed_at nulls last, source_byte_offset'\n"  # line 6
        "    ) }}\n"
        "),\n"
        "named as (\n"
        "    {{ cowork_analytics.deduplicate(relation='s', partition_by='k', order_by='t') }}\n"
        "),\n"
        "fine as (\n"
        "    {{ deduplicate('source', 'id', 'snapshot_at desc nulls last') }}\n"
        ")\n"
        "select * from latest\n"
    )
    assert findings(tmp_path, sql) == [(2, "null-order"), (6, "null-order"), (10, "null-order")]
    assert "deduplicate_rare item `source_byte_offset`" in messages(tmp_path, sql)[1]


def test_opt_out_with_a_reason_excuses_its_line(tmp_path: Path) -> None:
    sql = on_line_three("hash(b) as key,  -- portable: only compared within one engine's run")
    assert findings(tmp_path, sql) == []


def test_opt_out_may_follow_another_directive(tmp_path: Path) -> None:
    sql = on_line_three("t.*,  -- noqa: AM04 -- portable: no DuckDB here, just testing")
    assert findings(tmp_path, sql) == [(3, "unused-opt-out")]


def test_opt_out_without_a_reason_is_a_finding_and_excuses_nothing(tmp_path: Path) -> None:
    sql = on_line_three("hash(b) as key,  -- portable:")
    assert findings(tmp_path, sql) == [(3, "hash-function"), (3, "opt-out-reason")]


def test_punctuation_is_not_a_reason(tmp_path: Path) -> None:
    sql = on_line_three("hash(b) as key,  -- portable: -")
    assert findings(tmp_path, sql) == [(3, "hash-function"), (3, "opt-out-reason")]


def test_unused_opt_out_is_a_finding(tmp_path: Path) -> None:
    sql = on_line_three("md5(b) as key,  -- portable: nothing to excuse")
    assert findings(tmp_path, sql) == [(3, "unused-opt-out")]


def test_a_sentence_mentioning_portable_is_not_an_opt_out(tmp_path: Path) -> None:
    sql = on_line_three("md5(b) as key,  -- keep this portable: Spark reads it too")
    assert findings(tmp_path, sql) == []


def run_checker(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, arguments)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_status_and_output(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "staging").mkdir(parents=True)
    (models / "staging" / "clean.sql").write_text("select a from t\n")
    (models / "README.md").write_text("not sql: a::int\n")
    assert run_checker(models).returncode == 0
    assert run_checker(models).stdout == "1 file portable\n"

    (models / "staging" / "dirty.sql").write_text("select\n    a::int\nfrom t\n")
    result = run_checker(models)
    assert result.returncode == 1
    *finding_lines, total = result.stdout.splitlines()
    assert len(finding_lines) == 1
    assert FINDING_LINE.match(finding_lines[0])
    assert finding_lines[0].split(": ")[0].endswith("staging/dirty.sql:2")
    assert total == "1 non-portable finding in 1 of 2 files"


def test_nothing_to_read_is_an_error(tmp_path: Path) -> None:
    assert run_checker(tmp_path).returncode == 2
    assert run_checker(tmp_path / "no-such-folder").returncode == 2


def test_real_project_runs_and_reports_in_the_agreed_shape() -> None:
    # The models are being made portable; this only pins that the lint runs on them.
    result = run_checker()
    assert result.returncode in (0, 1), result.stderr
    *finding_lines, total = result.stdout.splitlines()
    if result.returncode == 0:
        assert not finding_lines
        assert re.fullmatch(r"\d+ files? portable", total)
        return
    assert re.fullmatch(r"\d+ non-portable findings? in \d+ of \d+ files?", total)
    for line in finding_lines:
        match = FINDING_LINE.match(line)
        assert match, line
        assert match["path"].startswith(("dbt_project/models/", "dbt_project/tests/")), line
