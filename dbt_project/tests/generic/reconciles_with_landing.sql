{% test reconciles_with_landing(model, landed, date_column, key_column) %}
{#- Staging loses and invents no record: on each day its latest run (re)built, it holds one
    row per distinct key landed for that day, plus every landed record without a key (kept
    so that not_null fails the build). Deduplication is the only thing that may shrink it;
    cumulative metrics are differenced, never merged or dropped. Both sides count only
    records landed before that run started: a landing that commits while dbt builds adds
    records staging never read (staging keeps each record's first landed copy, so the cut
    is the same on both sides). Scoped to the rebuilt days, so an hourly run reads only the
    landed files of those days. -#}

{% set rebuilt_days = latest_rebuilt_days(model, date_column) %}

with

latest_run as (
    select max(rebuilt_at) as started_at
    from {{ model }}
),

staged as (
    select
        {{ date_column }} as landed_date,
        count(*) as staged_rows
    from {{ model }}
    where
        {{ date_column }} in ({{ rebuilt_days }})
        and landed_at <= (select latest_run.started_at from latest_run)
    group by {{ date_column }}
),

landed as (
    select
        {{ date_column }} as landed_date,
        count(distinct {{ key_column }})
        + count(case when {{ key_column }} is null then 1 end) as landed_records
    from {{ landed }}
    where
        {{ date_column }} in ({{ rebuilt_days }})
        and landed_at <= (select latest_run.started_at from latest_run)
    group by {{ date_column }}
)

select
    coalesce(staged.landed_date, landed.landed_date) as landed_date,
    coalesce(staged.staged_rows, 0) as staged_rows,
    coalesce(landed.landed_records, 0) as landed_records
from staged
full outer join landed on staged.landed_date = landed.landed_date
where coalesce(staged.staged_rows, 0) != coalesce(landed.landed_records, 0)
{% endtest %}
