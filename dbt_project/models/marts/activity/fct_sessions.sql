{{ config(**incremental_by_key('session_id')) }}

{#- One row per session: its span, processes (a resumed session adds one), counts, tokens,
    reported cost and active time. Incremental: sessions with an event on a changed day are
    recomputed from all their events. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

events as (
    select * from {{ ref('int_otel__events') }}
    where
        session_id is not null
    {% if is_incremental() %}
            and session_id in ({{ changed_keys('session_id') }})
        {% endif %}
),

gaps as (
    select
        session_id,
        sum(active_seconds) as active_seconds,
        sum(case when opens_process then 1 else 0 end) as processes
    from {{ ref('int_otel__event_gaps') }}
    {% if is_incremental() %}
        where rebuilt_at = {{ run_started() }}
    {% endif %}
    group by session_id
),

totals as (
    select
        session_id,
        -- A session belongs to the person and product of its first event.
        min_by(user_key, event_at) as user_key,
        min_by(product, event_at) as product,
        min_by(event_date, event_at) as activity_date,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        {{ activity_totals() }}
    from events
    group by session_id
),

final as (
    select
        totals.session_id,
        totals.user_key,
        totals.product,
        totals.started_at,
        totals.ended_at,
        totals.activity_date,
        cast(gaps.processes as bigint) as processes,
        gaps.processes > 1 as is_resumed,
        cast(totals.prompts as bigint) as prompts,
        cast(totals.api_requests as bigint) as api_requests,
        cast(totals.api_errors as bigint) as api_errors,
        cast(totals.tool_calls as bigint) as tool_calls,
        cast(totals.tool_rejections as bigint) as tool_rejections,
        cast(gaps.active_seconds as decimal(18, 3)) as active_seconds,
        cast(totals.input_tokens as bigint) as input_tokens,
        cast(totals.output_tokens as bigint) as output_tokens,
        cast(totals.cache_read_tokens as bigint) as cache_read_tokens,
        cast(totals.cache_creation_tokens as bigint) as cache_creation_tokens,
        cast(totals.cost_usd as decimal(38, 9)) as cost_usd,
        {{ run_started() }} as rebuilt_at
    from totals
    inner join gaps on totals.session_id = gaps.session_id
)

select * from final
