{{ config(**incremental_by_key('prompt_id')) }}

{#- How each API request's cost is attributed to tools. A request is what the model did
    after reading the results of the tools it had asked for, so its cost goes to the
    `tool_result`s of the same prompt that lie between the previous api_request of that
    prompt and this one (ordered by event time, then event.sequence), split evenly. A
    request that consumed no tool result (the first of a prompt, or one after a rejected
    call) is attributed to the pseudo-tool `(model)`. One row per (request, tool result)
    pair, or (request, `(model)`). Incremental: prompts with an event on a changed day are
    recomputed. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

steps as (
    select
        event_id,
        event_name,
        prompt_id,
        user_key,
        event_date,
        tool_name,
        cost_usd,
        -- Requests up to and including this row: a request's own ordinal; for a tool
        -- result, the ordinal of the last request before it.
        sum(case when event_name = 'api_request' then 1 else 0 end) over (
            partition by prompt_id
            order by event_at nulls last, event_sequence nulls last, event_id nulls last
            rows unbounded preceding
        ) as requests_so_far
    from {{ ref('int_otel__events') }}
    where
        event_name in ('api_request', 'tool_result')
        and prompt_id is not null
    {% if is_incremental() %}
            and prompt_id in ({{ changed_keys('prompt_id') }})
        {% endif %}
),

requests as (
    select
        event_id as api_request_id,
        prompt_id,
        user_key,
        event_date,
        cost_usd,
        requests_so_far as request_ordinal
    from steps
    where event_name = 'api_request'
),

-- A tool result is consumed by the next request of its prompt.
tool_results as (
    select
        event_id as tool_call_id,
        prompt_id,
        tool_name,
        requests_so_far + 1 as consumed_by_ordinal
    from steps
    where event_name = 'tool_result'
),

consumed as (
    select
        requests.api_request_id,
        requests.prompt_id,
        requests.user_key,
        requests.event_date,
        requests.cost_usd,
        tool_results.tool_call_id,
        coalesce(tool_results.tool_name, '(model)') as tool_name,
        count(*) over (partition by requests.api_request_id) as shares
    from requests
    left join tool_results
        on
            requests.prompt_id = tool_results.prompt_id
            and requests.request_ordinal = tool_results.consumed_by_ordinal
),

-- Requests outside any prompt (start-up calls) consumed nothing.
unprompted as (
    select
        event_id as api_request_id,
        -- Unprompted requests share one key per day, so a day's rebuild replaces them.
        '(no prompt)|' || cast(event_date as string) as prompt_id,
        user_key,
        event_date,
        cost_usd,
        cast(null as string) as tool_call_id,
        '(model)' as tool_name,
        1 as shares
    from {{ ref('int_otel__events') }}
    where
        event_name = 'api_request'
        and prompt_id is null
    {% if is_incremental() %}
            and event_date in ({{ changed_event_days() }})
        {% endif %}
),

allocated as (
    select
        api_request_id,
        prompt_id,
        tool_call_id,
        user_key,
        event_date as activity_date,
        tool_name,
        cast(1.0 / shares as decimal(18, 9)) as request_share,
        cast(cost_usd / shares as decimal(38, 9)) as cost_usd
    from (
        select * from consumed
        union all
        select * from unprompted
    ) as requests_and_shares
),

final as (
    select
        allocated.*,
        tool_calls.mcp_server_name,
        {{ run_started() }} as rebuilt_at
    from allocated
    left join {{ ref('int_otel__tool_calls') }} as tool_calls
        on allocated.tool_call_id = tool_calls.tool_call_id
)

select * from final
