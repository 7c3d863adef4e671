{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_cost_daily'}}}) }}

-- Input quality: models the price seed does not know on the day they were used. Their
-- reported cost still counts; only the recomputation is missing. Add them to the seed.
select
    model,
    min(activity_date) as first_day,
    sum(api_requests) as api_requests
from {{ ref('fct_cost_daily') }}
where not is_priced
group by model
