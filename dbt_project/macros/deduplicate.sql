{#- One row per `partition_by`: the first by `order_by`. Staging uses it to drop duplicate
    deliveries and to keep the latest directory snapshot. (`qualify` is DuckDB/Snowflake/
    BigQuery syntax; other engines would need a subquery here, in this one place.) -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}
