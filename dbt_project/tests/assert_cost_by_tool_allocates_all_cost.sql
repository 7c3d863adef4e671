{{ config(meta={'dagster': {'ref': {'name': 'fct_cost_by_tool'}}}) }}

-- Allocation to tools neither loses nor invents cost: per day, the attributed total equals
-- the requests' total (to the nano-dollar per split share).
with

attributed as (
    select
        activity_date,
        sum(cost_usd) as cost_usd,
        sum(attributed_requests) as requests
    from {{ ref('fct_cost_by_tool') }}
    group by activity_date
),

requested as (
    select
        activity_date,
        sum(cost_usd) as cost_usd,
        count(*) as requests
    from {{ ref('fct_api_requests') }}
    group by activity_date
)

select
    requested.activity_date,
    requested.cost_usd as requested_cost_usd,
    attributed.cost_usd as attributed_cost_usd
from requested
left join attributed on requested.activity_date = attributed.activity_date
where
    attributed.cost_usd is null
    or abs(requested.cost_usd - attributed.cost_usd) > 0.000001
    or abs(requested.requests - attributed.requests) > 0.000001
