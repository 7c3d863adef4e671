{#- True when a string column matches a regular expression (RE2/Java syntax subset that
    both engines share: no lookarounds, no backreferences). -#}
{% macro regex_matches(column, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'cowork_analytics')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(column, pattern) -%}
    regexp_like({{ column }}, {{ cowork_analytics.regex_literal(pattern) }})
{%- endmacro %}

{% macro duckdb__regex_matches(column, pattern) -%}
    regexp_matches({{ column }}, {{ cowork_analytics.regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__regex_matches(column, pattern) -%}
    ({{ column }} rlike {{ cowork_analytics.regex_literal(pattern) }})
{%- endmacro %}

{#- A regular expression as an SQL string literal. Spark reads a backslash in a string
    literal as an escape character, so the pattern's own backslashes (`\.`, `\[`) must be
    doubled there to reach the regex engine; DuckDB keeps them as written. -#}
{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal', 'cowork_analytics')(pattern)) }}
{%- endmacro %}

{% macro default__regex_literal(pattern) -%}
    '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
    '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
