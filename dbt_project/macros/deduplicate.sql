{#- One row per `partition_by`: the first by `order_by`. Staging uses it to drop duplicate
    deliveries and to keep the latest directory snapshot. (`qualify` is DuckDB/Snowflake/
    BigQuery syntax; other engines would need a subquery here, in this one place.) -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{#- The same rows as `deduplicate`, much faster on large relations where duplicates are
    rare (duplicate deliveries): only the keys that occur more than once go through the
    window, instead of sorting every row. -#}
{% macro deduplicate_rare(relation, key, order_by) -%}
    -- Rows without a key stay, so that the key's not_null test fails the build.
    select *
    from {{ relation }}
    where {{ key }} is null or {{ key }} not in (
        select {{ key }} from {{ relation }}
        where {{ key }} is not null
        group by {{ key }}
        having count(*) > 1
    )
    union all
    select *
    from {{ relation }}
    where {{ key }} in (
        select {{ key }} from {{ relation }}
        group by {{ key }}
        having count(*) > 1
    )
    qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
{%- endmacro %}
