{% test reconciles_with_landing(model, landed, date_column, key_column) %}
{#- Staging loses and invents no record: on each day its latest run (re)built, it holds one
    row per distinct key landed for that day, plus every landed record without a key (kept
    so that not_null fails the build). Deduplication is the only thing that may shrink it;
    cumulative metrics are differenced, never merged or dropped. Both sides count only
    records landed before that run started: a landing that commits while dbt builds adds
    records staging never read (staging keeps each record's first landed copy, so the cut
    is the same on both sides). Scoped to the rebuilt days, so an hourly run reads only the
    landed files of those days.

    Two losses stay outside that scope, so they are checked too:
    - a key of the rebuilt days also staged on another day (a duplicate the day counts and
      the key test, both scoped to the latest run, cannot see), in every run: it reads
      staging only;
    - a day landed but missing from staging altogether (no row of it was rebuilt), by the
      periodic full check: every landed day is compared in the first run of each UTC day
      (started in its first hour, as the hourly schedule's midnight run is), or when the var
      `reconcile_all_days` is true (false never). Days whose landing retention dropped stay
      staged and are not compared. -#}

{% set rebuilt_days = latest_rebuilt_days(model, date_column) %}
{% set forced = var('reconcile_all_days', none) %}
{% set all_days = forced if forced is not none else run_started_at.hour == 0 %}

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
        {% if not all_days %}{{ date_column }} in ({{ rebuilt_days }}) and {% endif %}
        landed_at <= (select latest_run.started_at from latest_run)
    group by {{ date_column }}
),

landed as (
    select
        {{ date_column }} as landed_date,
        count(distinct {{ key_column }})
        + count(case when {{ key_column }} is null then 1 end) as landed_records
    from {{ landed }}
    where
        {% if not all_days %}{{ date_column }} in ({{ rebuilt_days }}) and {% endif %}
        landed_at <= (select latest_run.started_at from latest_run)
    group by {{ date_column }}
),

rebuilt_keys as (
    select
        {{ key_column }} as record_key,
        {{ date_column }} as landed_date
    from {{ model }}
    where {{ date_column }} in ({{ rebuilt_days }}) and {{ key_column }} is not null
),

staged_elsewhere as (
    select
        rebuilt_keys.landed_date,
        count(distinct rebuilt_keys.record_key) as keys_staged_on_other_days
    from rebuilt_keys
    inner join {{ model }} as other_days
        on
            rebuilt_keys.record_key = other_days.{{ key_column }}
            and rebuilt_keys.landed_date != other_days.{{ date_column }}
    group by rebuilt_keys.landed_date
),

compared as (
    select
        coalesce(staged.landed_date, landed.landed_date) as landed_date,
        coalesce(staged.staged_rows, 0) as staged_rows,
        coalesce(landed.landed_records, 0) as landed_records,
        landed.landed_date is not null as is_landed,
        coalesce(staged.landed_date, landed.landed_date) in ({{ rebuilt_days }}) as is_rebuilt
    from staged
    full outer join landed on staged.landed_date = landed.landed_date
)

select
    coalesce(compared.landed_date, staged_elsewhere.landed_date) as landed_date,
    coalesce(compared.staged_rows, 0) as staged_rows,
    coalesce(compared.landed_records, 0) as landed_records,
    coalesce(staged_elsewhere.keys_staged_on_other_days, 0) as keys_staged_on_other_days
from compared
full outer join staged_elsewhere on compared.landed_date = staged_elsewhere.landed_date
where
    coalesce(staged_elsewhere.keys_staged_on_other_days, 0) > 0
    or (
        coalesce(compared.staged_rows, 0) != coalesce(compared.landed_records, 0)
        -- a staged day without landed files is compared only if this run rebuilt it
        and (compared.is_landed or compared.is_rebuilt)
    )
{% endtest %}
