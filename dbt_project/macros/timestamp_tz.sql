{#- The type of an instant (a UTC timestamp): DuckDB's `timestamp with time zone`; Spark's
    `timestamp` is already one (session-local, and the session time zone is UTC). -#}
{% macro timestamp_tz() -%}
    {{ return(adapter.dispatch('timestamp_tz', 'cowork_analytics')()) }}
{%- endmacro %}

{% macro default__timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}

{% macro spark__timestamp_tz() -%}
    timestamp
{%- endmacro %}
