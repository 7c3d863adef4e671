{#- A compact, fast hash of several columns (nulls and empty strings hash alike), for
    internal join keys that never leave the warehouse. Not a cryptographic digest and not
    comparable across engines. -#}
{% macro fingerprint(columns) -%}
    {{ return(adapter.dispatch('fingerprint', 'cowork_analytics')(columns)) }}
{%- endmacro %}

{% macro default__fingerprint(columns) -%}
    md5(concat_ws('|'{% for column in columns %}, coalesce({{ column }}, ''){% endfor %}))
{%- endmacro %}

{% macro duckdb__fingerprint(columns) -%}
    hash({% for column in columns %}coalesce({{ column }}, ''){{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro spark__fingerprint(columns) -%}
    xxhash64({% for column in columns %}coalesce({{ column }}, ''){{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
