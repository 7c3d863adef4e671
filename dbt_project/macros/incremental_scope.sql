{#- What an incremental model rebuilds. Every incremental model stores `rebuilt_at` (the
    dbt run's start time) on the rows it writes; a run rebuilds:
      - the event days whose staged events were (re)built since this model last ran (new,
        late or re-delivered records), and
      - the event days holding events of an identity whose resolution to a person changed
        in this run (a device later seen with an account, a directory e-mail arriving),
    and the days of a forgotten person's events (`erasure.rebuild_days`, written by
      `forget` when it rebuilds incrementally: governance/erasure/purge.py),
    so an incremental run gives the same rows as a full refresh. Models whose rows span
    several days (sessions, prompts) rebuild every session or prompt with an event on
    those days. The days are looked up when the model runs and written into its SQL as
    literals, so the engine prunes files and row groups by date. Models that use these
    macros name their inputs in `-- depends_on:` comments, since refs inside
    `is_incremental()` blocks are not seen at parse time. -#}

{% macro run_started() -%}
    cast('{{ run_started_at }}' as {{ timestamp_tz() }})
{%- endmacro %}

{% macro last_rebuilt() -%}
    (
        select coalesce(max(rebuilt_at), cast('1970-01-01' as {{ timestamp_tz() }}))
        from {{ this }}
    )
{%- endmacro %}

{#- The dates a query returns, as a comma-separated list of SQL date literals (a null date,
    which matches nothing, when there are none or while dbt only parses). -#}
{% macro date_literals(query) -%}
    {%- if not execute -%}
        {{ return('cast(null as date)') }}
    {%- endif -%}
    {%- set days = run_query(query).columns[0].values() | reject('none') | list -%}
    {%- if days | length == 0 -%}
        {{ return('cast(null as date)') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for day in days | sort -%}
        {%- do literals.append("cast('" ~ day ~ "' as date)") -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{%- endmacro %}

{% macro changed_event_days_query() -%}
    select distinct staged.event_date
    from {{ ref('stg_otel__events') }} as staged
    where
        staged.rebuilt_at > {{ cowork_analytics.last_rebuilt() }}
        or staged.identity_fingerprint in (
            select changed.identity_fingerprint
            from {{ ref('int_identity__fingerprint_keys') }} as changed
            where changed.changed_at = {{ cowork_analytics.run_started() }}
        )
    {{- cowork_analytics.erased_days_union() }}
{%- endmacro %}

{#- ` union` the days an erasure left to rebuild, while it has left some: `forget` deletes
    a person's rows from the build database, clears their days from the day models and
    lists the days in `erasure.rebuild_days` (DuckDB only; dropped once a rebuild passed).
    Nothing otherwise. -#}
{% macro erased_days_union() -%}
    {%- if not execute or target.type != 'duckdb' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(
        database=target.database, schema='erasure', identifier='rebuild_days'
    ) -%}
    {%- if relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(' union select erased.event_date from ' ~ relation ~ ' as erased') }}
{%- endmacro %}

{#- Days of an upstream incremental model's rows rebuilt in this run. -#}
{% macro rebuilt_days_query(relation, date_column) -%}
    select distinct {{ date_column }}
    from {{ relation }}
    where rebuilt_at = {{ cowork_analytics.run_started() }}
{%- endmacro %}

{% macro changed_event_days() -%}
    {{ return(cowork_analytics.date_literals(cowork_analytics.changed_event_days_query())) }}
{%- endmacro %}

{#- Changed event days plus the days of rows an upstream model rebuilt in this run. -#}
{% macro changed_event_days_and(relation, date_column) -%}
    {{ return(cowork_analytics.date_literals(
        cowork_analytics.changed_event_days_query()
        ~ ' union '
        ~ cowork_analytics.rebuilt_days_query(relation, date_column)
    )) }}
{%- endmacro %}

{% macro changed_keys(key) -%}
    select distinct staged.{{ key }}
    from {{ ref('stg_otel__events') }} as staged
    where
        staged.{{ key }} is not null
        and staged.event_date in ({{ cowork_analytics.changed_event_days() }})
{%- endmacro %}

{#- Days (of `date_column`) of a landed source that received rows since the newest landing
    this staging model already holds, minus `late_arrival_lookback_hours` (a landing that
    committed while the last build ran). -#}
{% macro days_landed_since_last_build(relation, date_column) -%}
    select distinct landed.{{ date_column }}
    from {{ relation }} as landed
    where landed.landed_at > (
        select
            coalesce(max(staged.landed_at), cast('1970-01-01' as {{ timestamp_tz() }}))
            - interval '{{ var("late_arrival_lookback_hours") }} hours'
        from {{ this }} as staged
    )
{%- endmacro %}
