{#- Exact (interpolated) percentile of a column within a group. DuckDB calls it
    quantile_cont; Spark calls the same thing percentile. -#}
{% macro percentile(column, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'cowork_analytics')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}

{#- p50, p90, p95 and p99 of a column, as select-list columns `p50_<name>` ... `p99_<name>`. -#}
{% macro percentiles(column, name) -%}
    {%- for fraction in [50, 90, 95, 99] %}
    {{ cowork_analytics.percentile(column, fraction / 100) }} as p{{ fraction }}_{{ name }}
    {{- "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
