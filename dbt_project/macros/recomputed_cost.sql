{#- Cost recomputed from the versioned price seed: `usage` has the priced token columns of
    int_otel__daily_model_usage (or their sums), `prices` a `model_prices` row valid on the
    day. Exact decimal arithmetic on every engine: tokens × price per million tokens has 4
    decimals, and scaling by 1e-6 (a multiplication, not a division, which Spark and DuckDB
    would widen differently or turn into a double) keeps all 10. -#}
{% macro recomputed_cost_usd(usage, prices) -%}
    cast(
        {{ usage }}.input_tokens * {{ prices }}.input_usd_per_mtok
        + {{ usage }}.output_tokens * {{ prices }}.output_usd_per_mtok
        + {{ usage }}.cache_read_tokens * {{ prices }}.cache_read_usd_per_mtok
        + {{ usage }}.priced_5m_write_tokens * {{ prices }}.cache_write_5m_usd_per_mtok
        + {{ usage }}.priced_1h_write_tokens * {{ prices }}.cache_write_1h_usd_per_mtok
        as decimal(28, 4)
    ) * cast(0.000001 as decimal(7, 6))
{%- endmacro %}

{#- Joins `prices` (the model_prices seed) to the price row valid on `day`: rows are valid
    in [valid_from, valid_to), an empty valid_to meaning still valid. -#}
{% macro price_valid_on(prices, model, day) -%}
    {{ model }} = {{ prices }}.model_id
    and {{ day }} >= {{ prices }}.valid_from
    and ({{ prices }}.valid_to is null or {{ day }} < {{ prices }}.valid_to)
{%- endmacro %}
