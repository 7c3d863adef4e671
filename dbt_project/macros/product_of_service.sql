{#- Which product a client stream belongs to, from the resource's service.name. -#}
{% macro product_of_service(column) -%}
    case
        when {{ column }} like 'claude-code%' then 'claude_code'
        when {{ column }} = 'cowork' then 'cowork'
        when {{ column }} is null then 'unknown'
        else 'other'
    end
{%- endmacro %}
