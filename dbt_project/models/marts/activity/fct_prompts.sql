{{ config(**incremental_by_key('prompt_id')) }}

{#- One row per prompt (`prompt.id`): its API calls, failures and retries, tool calls and
    decisions, tokens, reported cost and wall-clock time (first to last event). The opener
    is the prompt's user_prompt event when present, else its first event. Incremental:
    prompts with an event on a changed day are recomputed from all their events. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

events as (
    select
        *,
        -- Sorts the user_prompt event first, then by time.
        case when event_name = 'user_prompt' then 0 else 10000000000 end
        + {{ epoch_seconds('event_at') }} as opener_order
    from {{ ref('int_otel__events') }}
    where
        prompt_id is not null
    {% if is_incremental() %}
            and prompt_id in ({{ changed_keys('prompt_id') }})
        {% endif %}
),

totals as (
    select
        prompt_id,
        min_by(session_id, opener_order) as session_id,
        min_by(user_key, opener_order) as user_key,
        min_by(product, opener_order) as product,
        min_by(event_at, opener_order) as prompted_at,
        min_by(event_date, opener_order) as activity_date,
        max(case when event_name = 'user_prompt' then prompt_length end) as prompt_length,
        min_by(
            case when event_name in ('api_request', 'api_error') then model end,
            case when event_name in ('api_request', 'api_error') then event_at end
        ) as model,
        min(event_at) as first_event_at,
        max(event_at) as finished_at,
        coalesce(sum(case when event_name = 'api_error' then attempt end), 0)
            as retry_attempts,
        count(case when event_name = 'tool_result' and not is_success then 1 end)
            as tool_failures,
        {{ activity_totals() }}
    from events
    group by prompt_id
),

final as (
    select
        prompt_id,
        session_id,
        user_key,
        product,
        prompted_at,
        finished_at,
        activity_date,
        cast(
            round({{ seconds_between('first_event_at', 'finished_at') }} * 1000) as bigint
        ) as wall_clock_ms,
        prompt_length,
        model,
        cast(api_requests as bigint) as api_requests,
        cast(api_errors as bigint) as api_errors,
        cast(retry_attempts as bigint) as retry_attempts,
        cast(tool_calls as bigint) as tool_calls,
        cast(tool_rejections as bigint) as tool_rejections,
        cast(tool_failures as bigint) as tool_failures,
        cast(input_tokens as bigint) as input_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(cache_read_tokens as bigint) as cache_read_tokens,
        cast(cache_creation_tokens as bigint) as cache_creation_tokens,
        cast(cost_usd as decimal(38, 9)) as cost_usd,
        api_errors > 0 and api_requests = 0 as is_failed,
        {{ run_started() }} as rebuilt_at
    from totals
)

select * from final
