with

-- OTel activity was aggregated per person, day and product upstream (incrementally).
otel_daily as (
    select
        user_key,
        event_date as activity_date,
        sum(prompts) as prompts,
        sum(api_requests) as api_requests,
        sum(api_errors) as api_errors,
        sum(tool_calls) as tool_calls,
        sum(tool_rejections) as tool_rejections,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_creation_tokens) as cache_creation_tokens,
        sum(cost_usd) as cost_usd,
        sum(case when product = 'cowork' then cost_usd else 0 end) as cowork_cost_usd,
        sum(case when product = 'claude_code' then cost_usd else 0 end) as claude_code_cost_usd,
        sum(active_seconds) as active_seconds
    from {{ ref('int_otel__daily_activity') }}
    group by user_key, event_date
),

daily_sessions as (
    select
        user_key,
        event_date as activity_date,
        count(distinct session_id) as sessions
    from {{ ref('int_otel__daily_sessions') }}
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
        user_days.user_key || '|' || cast(user_days.activity_date as string)
            as user_daily_activity_id,
        user_days.user_key,
        user_days.activity_date,
        teams.team_name,
        cast(coalesce(daily_sessions.sessions, 0) as bigint) as sessions,
        cast(coalesce(otel_daily.prompts, 0) as bigint) as prompts,
        {{ decimal_rounded('coalesce(otel_daily.active_seconds, 0) / 60', 18, 3) }}
            as active_minutes,
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
    left join daily_sessions
        on
            user_days.user_key = daily_sessions.user_key
            and user_days.activity_date = daily_sessions.activity_date
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
