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
