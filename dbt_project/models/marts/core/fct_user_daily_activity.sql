with

events as (
    select * from {{ ref('int_otel__events') }}
),

otel_daily as (
    select
        user_key,
        event_date as activity_date,
        count(distinct session_id) as sessions,
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
        coalesce(sum(cost_usd) filter (where event_name = 'api_request'), 0) as cost_usd,
        coalesce(
            sum(cost_usd) filter (where event_name = 'api_request' and product = 'cowork'), 0
        ) as cowork_cost_usd,
        coalesce(
            sum(cost_usd) filter (
                where event_name = 'api_request' and product = 'claude_code'
            ),
            0
        ) as claude_code_cost_usd
    from events
    group by user_key, event_date
),

active_daily as (
    select
        user_key,
        event_date as activity_date,
        sum(active_seconds) as active_seconds
    from {{ ref('int_otel__event_gaps') }}
    group by user_key, event_date
),

compliance_daily as (
    select
        md5('account:' || user_account_id) as user_key,
        activity_date,
        count(*) as compliance_activities,
        count(*) filter (where activity_type like '%chat_created') as chats_created,
        count(*) filter (where activity_type like '%project_created') as projects_created,
        count(*) filter (
            where activity_type like '%file_uploaded' or activity_type like '%file_created'
        ) as files_uploaded,
        count(*) filter (where activity_type like '%login_succeeded') as logins
    from {{ ref('stg_compliance_api__activities') }}
    where user_account_id is not null
    group by user_account_id, activity_date
),

user_days as (
    select
        user_key,
        activity_date
    from otel_daily
    union
    select
        user_key,
        activity_date
    from compliance_daily
),

final as (
    select
        user_days.user_key || '|' || cast(user_days.activity_date as varchar)
            as user_daily_activity_id,
        user_days.user_key,
        user_days.activity_date,
        teams.team_name,
        cast(coalesce(otel_daily.sessions, 0) as bigint) as sessions,
        cast(coalesce(otel_daily.prompts, 0) as bigint) as prompts,
        cast(coalesce(active_daily.active_seconds, 0) / 60 as decimal(18, 3)) as active_minutes,
        cast(coalesce(otel_daily.api_requests, 0) as bigint) as api_requests,
        cast(coalesce(otel_daily.api_errors, 0) as bigint) as api_errors,
        cast(coalesce(otel_daily.tool_calls, 0) as bigint) as tool_calls,
        cast(coalesce(otel_daily.tool_rejections, 0) as bigint) as tool_rejections,
        cast(coalesce(otel_daily.input_tokens, 0) as bigint) as input_tokens,
        cast(coalesce(otel_daily.output_tokens, 0) as bigint) as output_tokens,
        cast(coalesce(otel_daily.cache_read_tokens, 0) as bigint) as cache_read_tokens,
        cast(coalesce(otel_daily.cache_creation_tokens, 0) as bigint) as cache_creation_tokens,
        cast(coalesce(otel_daily.cost_usd, 0) as decimal(38, 9)) as cost_usd,
        cast(coalesce(otel_daily.cowork_cost_usd, 0) as decimal(38, 9)) as cowork_cost_usd,
        cast(coalesce(otel_daily.claude_code_cost_usd, 0) as decimal(38, 9))
            as claude_code_cost_usd,
        cast(coalesce(compliance_daily.compliance_activities, 0) as bigint)
            as compliance_activities,
        cast(coalesce(compliance_daily.chats_created, 0) as bigint) as chats_created,
        cast(coalesce(compliance_daily.projects_created, 0) as bigint) as projects_created,
        cast(coalesce(compliance_daily.files_uploaded, 0) as bigint) as files_uploaded,
        cast(coalesce(compliance_daily.logins, 0) as bigint) as logins
    from user_days
    left join otel_daily
        on
            user_days.user_key = otel_daily.user_key
            and user_days.activity_date = otel_daily.activity_date
    left join active_daily
        on
            user_days.user_key = active_daily.user_key
            and user_days.activity_date = active_daily.activity_date
    left join compliance_daily
        on
            user_days.user_key = compliance_daily.user_key
            and user_days.activity_date = compliance_daily.activity_date
    left join {{ ref('int_identity__daily_teams') }} as teams
        on
            user_days.user_key = teams.user_key
            and user_days.activity_date = teams.activity_date
)

select * from final
