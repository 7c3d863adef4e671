{{ config(meta={'dagster': {'ref': {'name': 'fct_cost_daily'}}}) }}

-- The mart loses and invents no cost: its total equals the staged api_request total.
with

mart as (
    select coalesce(sum(cost_usd), 0) as cost_usd from {{ ref('fct_cost_daily') }}
),

staged as (
    select coalesce(sum(cost_usd), 0) as cost_usd
    from {{ ref('stg_otel__events') }}
    where event_name = 'api_request'
)

select
    mart.cost_usd as mart_cost_usd,
    staged.cost_usd as staged_cost_usd
from mart
cross join staged
where mart.cost_usd != staged.cost_usd
