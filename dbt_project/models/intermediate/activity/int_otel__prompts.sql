{#- One row per prompt (`prompt.id`): its API calls, failures and retries, tool calls and
    decisions, tokens, reported cost and wall-clock time (first to last event). -#}

with

events as (
    select * from {{ ref('int_otel__events') }}
    where prompt_id is not null
),

-- The prompt's own user_prompt event when present, else its first event.
openers as (
    select
        prompt_id,
        session_id,
        user_key,
        product,
        event_at as prompted_at,
        event_date as activity_date,
        prompt_length
    from events
    qualify row_number() over (
        partition by prompt_id
        order by
            case when event_name = 'user_prompt' then 0 else 1 end,
            event_at,
            event_sequence,
            event_id
    ) = 1
),

first_models as (
    select
        prompt_id,
        model
    from events
    where event_name in ('api_request', 'api_error') and model is not null
    qualify row_number() over (
        partition by prompt_id order by event_at, event_sequence, event_id
    ) = 1
),

totals as (
    select
        prompt_id,
        min(event_at) as first_event_at,
        max(event_at) as finished_at,
        count(*) filter (where event_name = 'api_request') as api_requests,
        count(*) filter (where event_name = 'api_error') as api_errors,
        coalesce(sum(attempt) filter (where event_name = 'api_error'), 0) as retry_attempts,
        count(*) filter (where event_name = 'tool_result') as tool_calls,
        count(*) filter (
            where event_name = 'tool_decision' and decision = 'reject'
        ) as tool_rejections,
        count(*) filter (where event_name = 'tool_result' and not is_success) as tool_failures,
        coalesce(sum(input_tokens) filter (where event_name = 'api_request'), 0)
            as input_tokens,
        coalesce(sum(output_tokens) filter (where event_name = 'api_request'), 0)
            as output_tokens,
        coalesce(sum(cache_read_tokens) filter (where event_name = 'api_request'), 0)
            as cache_read_tokens,
        coalesce(sum(cache_creation_tokens) filter (where event_name = 'api_request'), 0)
            as cache_creation_tokens,
        coalesce(sum(cost_usd) filter (where event_name = 'api_request'), 0) as cost_usd
    from events
    group by prompt_id
),

final as (
    select
        totals.prompt_id,
        openers.session_id,
        openers.user_key,
        openers.product,
        openers.prompted_at,
        totals.finished_at,
        openers.activity_date,
        cast(
            round({{ seconds_between('totals.first_event_at', 'totals.finished_at') }} * 1000)
            as bigint
        ) as wall_clock_ms,
        openers.prompt_length,
        first_models.model,
        totals.api_requests,
        totals.api_errors,
        totals.retry_attempts,
        totals.tool_calls,
        totals.tool_rejections,
        totals.tool_failures,
        totals.input_tokens,
        totals.output_tokens,
        totals.cache_read_tokens,
        totals.cache_creation_tokens,
        totals.cost_usd,
        totals.api_errors > 0 and totals.api_requests = 0 as is_failed
    from totals
    inner join openers on totals.prompt_id = openers.prompt_id
    left join first_models on totals.prompt_id = first_models.prompt_id
)

select * from final
