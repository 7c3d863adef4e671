{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'stg_otel__metrics'}}}) }}

-- Input quality: per session, the claude_code.cost.usage metric should add up to the
-- session's api_request cost (to a micro-dollar per request). A difference means lost
-- events or lost metric points; the marts use the events and never add the metric.
with

metric as (
    select
        session_id,
        sum(increment) as cost_usd
    from {{ ref('stg_otel__metrics') }}
    where metric_name = 'claude_code.cost.usage' and session_id is not null
    group by session_id
),

events as (
    select
        session_id,
        sum(cost_usd) as cost_usd,
        count(*) as requests
    from {{ ref('stg_otel__events') }}
    where event_name = 'api_request'
    group by session_id
)

select
    metric.session_id,
    metric.cost_usd as metric_cost_usd,
    events.cost_usd as event_cost_usd
from metric
left join events on metric.session_id = events.session_id
where abs(metric.cost_usd - coalesce(events.cost_usd, 0)) > 0.000001 * coalesce(events.requests, 1)
