{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_cost_daily'}}}) }}

-- Input quality: reported cost more than 1 % (and a micro-dollar) away from the price seed.
-- Expected for fast mode and data residency surcharges; otherwise the seed needs a new
-- price version.
select
    model,
    activity_date,
    sum(cost_usd) as cost_usd,
    sum(recomputed_cost_usd) as recomputed
from {{ ref('fct_cost_daily') }}
where is_priced
group by model, activity_date
having abs(sum(cost_difference_usd)) > greatest(0.01 * sum(recomputed_cost_usd), 0.000001)
