with

events as (
    select * from {{ ref('stg_otel__events') }}
),

keyed as (
    select
        *,
        -- Third-party deployments send no account id: fall back to the device id.
        coalesce(user_account_id, 'device:' || device_id) as user_key
    from events
),

daily as (
    select
        event_date as usage_date,
        user_key,
        max(user_account_id) as user_account_id,
        max(user_email) as user_email,
        count(distinct session_id) as sessions,
        count(*) filter (where event_name = 'user_prompt') as prompts,
        count(*) filter (where event_name = 'api_request') as api_requests,
        count(*) filter (where event_name = 'api_error') as api_errors,
        coalesce(sum(input_tokens) filter (where event_name = 'api_request'), 0) as input_tokens,
        coalesce(sum(output_tokens) filter (where event_name = 'api_request'), 0) as output_tokens,
        coalesce(sum(cache_read_tokens) filter (where event_name = 'api_request'), 0)
            as cache_read_tokens,
        coalesce(sum(cache_creation_tokens) filter (where event_name = 'api_request'), 0)
            as cache_creation_tokens,
        -- Cost comes from api_request events only; the cost metric would double count it.
        coalesce(sum(cost_usd) filter (where event_name = 'api_request'), 0) as cost_usd
    from keyed
    group by event_date, user_key
),

final as (
    select
        user_key || '|' || strftime(usage_date, '%Y-%m-%d') as cost_daily_id,
        user_key,
        user_account_id,
        user_email,
        cast(sessions as bigint) as sessions,
        cast(prompts as bigint) as prompts,
        cast(api_requests as bigint) as api_requests,
        cast(api_errors as bigint) as api_errors,
        cast(input_tokens as bigint) as input_tokens,
        cast(output_tokens as bigint) as output_tokens,
        cast(cache_read_tokens as bigint) as cache_read_tokens,
        cast(cache_creation_tokens as bigint) as cache_creation_tokens,
        cast(cost_usd as decimal(38, 9)) as cost_usd,
        usage_date
    from daily
)

select * from final
