{#- True when a string column matches a regular expression (RE2/Java syntax subset that
    both engines share: no lookarounds, no backreferences). -#}
{% macro regex_matches(column, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'cowork_analytics')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(column, pattern) -%}
    regexp_like({{ column }}, '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regex_matches(column, pattern) -%}
    regexp_matches({{ column }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_matches(column, pattern) -%}
    ({{ column }} rlike '{{ pattern }}')
{%- endmacro %}
