{#- One row per session: its span, processes (a resumed session adds one), counts, tokens,
    reported cost and active time. -#}

with

events as (
    select * from {{ ref('int_otel__events') }}
    where session_id is not null
),

gaps as (
    select
        session_id,
        sum(active_seconds) as active_seconds,
        sum(case when opens_process then 1 else 0 end) as processes
    from {{ ref('int_otel__event_gaps') }}
    group by session_id
),

-- A session belongs to the person who started it (a shared session id is not expected).
owners as (
    select
        session_id,
        user_key,
        product,
        event_date as started_on
    from events
    qualify row_number() over (
        partition by session_id order by event_at, event_sequence, event_id
    ) = 1
),

totals as (
    select
        session_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        count(*) filter (where event_name = 'user_prompt') as prompts,
        count(*) filter (where event_name = 'api_request') as api_requests,
        count(*) filter (where event_name = 'api_error') as api_errors,
        count(*) filter (where event_name = 'tool_result') as tool_calls,
        count(*) filter (
            where event_name = 'tool_decision' and decision = 'reject'
        ) as tool_rejections,
        coalesce(sum(input_tokens) filter (where event_name = 'api_request'), 0)
            as input_tokens,
        coalesce(sum(output_tokens) filter (where event_name = 'api_request'), 0)
            as output_tokens,
        coalesce(sum(cache_read_tokens) filter (where event_name = 'api_request'), 0)
            as cache_read_tokens,
        coalesce(sum(cache_creation_tokens) filter (where event_name = 'api_request'), 0)
            as cache_creation_tokens,
        -- Cost comes from api_request events only; the cost metric would double count it.
        coalesce(sum(cost_usd) filter (where event_name = 'api_request'), 0) as cost_usd
    from events
    group by session_id
),

final as (
    select
        totals.session_id,
        owners.user_key,
        owners.product,
        totals.started_at,
        totals.ended_at,
        owners.started_on as activity_date,
        gaps.processes,
        gaps.processes > 1 as is_resumed,
        totals.prompts,
        totals.api_requests,
        totals.api_errors,
        totals.tool_calls,
        totals.tool_rejections,
        gaps.active_seconds,
        totals.input_tokens,
        totals.output_tokens,
        totals.cache_read_tokens,
        totals.cache_creation_tokens,
        totals.cost_usd
    from totals
    inner join owners on totals.session_id = owners.session_id
    inner join gaps on totals.session_id = gaps.session_id
)

select * from final
