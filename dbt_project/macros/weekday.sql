{#- Day of the week of a date as a number. Only compared with itself, so engines may
    number from different starting days (DuckDB: Sunday = 0; Spark: Sunday = 1). -#}
{% macro weekday(column) -%}
    {{ return(adapter.dispatch('weekday', 'cowork_analytics')(column)) }}
{%- endmacro %}

{% macro default__weekday(column) -%}
    extract(dow from {{ column }})
{%- endmacro %}

{% macro spark__weekday(column) -%}
    dayofweek({{ column }})
{%- endmacro %}
