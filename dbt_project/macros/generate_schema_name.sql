{#- A folder's schema is its own name (staging, marts, ...), not "<target>_<name>", so BI
    users find the marts in schema `marts` whatever the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
