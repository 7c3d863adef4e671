{#- The text at a top-level key of a JSON document held in a string column (null when
    the key or the document is missing or not JSON). -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'cowork_analytics')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    json_extract_scalar({{ column }}, '$."{{ key }}"')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$."{{ key }}"')
{%- endmacro %}

{#- Spark's JSON path reads `$.team.id` as a nested key: name keys with brackets. -#}
{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$[\'{{ key }}\']')
{%- endmacro %}
