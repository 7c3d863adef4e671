{#- The first non-null value of a column in a window's frame (use with `over`). DuckDB
    writes `ignore nulls` inside the call; Spark takes it as a second argument. -#}
{% macro first_non_null(column) -%}
    {{ return(adapter.dispatch('first_non_null', 'cowork_analytics')(column)) }}
{%- endmacro %}

{% macro default__first_non_null(column) -%}
    first_value({{ column }} ignore nulls)
{%- endmacro %}

{% macro spark__first_non_null(column) -%}
    first_value({{ column }}, true)
{%- endmacro %}
