{#- Every day from `start_date` to `end_date` inclusive (both SQL date expressions), as
    column `spine_date`; portable (a 0-9999 numbers table, no generate_series). -#}
{% macro day_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('day_spine', 'cowork_analytics')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__day_spine(start_date, end_date) -%}
    select {{ dbt.dateadd('day', 'numbers.n', start_date) }} as spine_date
    from (
        select thousands.d * 1000 + hundreds.d * 100 + tens.d * 10 + units.d as n
        from {{ cowork_analytics.digits() }} as units
        cross join {{ cowork_analytics.digits() }} as tens
        cross join {{ cowork_analytics.digits() }} as hundreds
        cross join {{ cowork_analytics.digits() }} as thousands
    ) as numbers
    where {{ dbt.dateadd('day', 'numbers.n', start_date) }} <= {{ end_date }}
{%- endmacro %}

{#- Spark plans the numbers table's four cross joins and the per-row date arithmetic slowly
    (tens of seconds in the forecast's unit test); a generated array is immediate. The
    sequence never runs backwards (Spark refuses that): an empty range yields its start
    only, which the filter removes. -#}
{% macro spark__day_spine(start_date, end_date) -%}
    select spine_date
    from (
        select explode(sequence(
            {{ start_date }}, greatest({{ start_date }}, {{ end_date }}), interval 1 day
        )) as spine_date
    ) as spine
    where spine_date <= {{ end_date }}
{%- endmacro %}

{% macro digits() -%}
    (
        select 0 as d union all select 1 union all select 2 union all select 3
        union all select 4 union all select 5 union all select 6 union all select 7
        union all select 8 union all select 9
    )
{%- endmacro %}
