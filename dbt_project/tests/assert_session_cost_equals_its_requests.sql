{{ config(meta={'dagster': {'ref': {'name': 'fct_sessions'}}}) }}

-- A session's cost is the sum of its api_request costs, exactly.
with

requests as (
    select
        session_id,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_api_requests') }}
    group by session_id
)

select
    sessions.session_id,
    sessions.cost_usd as session_cost_usd,
    coalesce(requests.cost_usd, 0) as requests_cost_usd
from {{ ref('fct_sessions') }} as sessions
left join requests on sessions.session_id = requests.session_id
where sessions.cost_usd != coalesce(requests.cost_usd, 0)
