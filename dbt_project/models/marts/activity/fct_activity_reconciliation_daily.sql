{#- What Anthropic's Enterprise Analytics counts against what the clients' telemetry says,
    per person and UTC day, on the days an Enterprise Analytics pull covered: sessions
    (Cowork and Claude Code), Cowork messages (prompts) and Cowork actions (tool calls).
    A person active in one source and absent from the other is the finding that matters
    most: telemetry not configured on their machine, or a report that leaves them out. -#}

with

covered_days as (
    select usage_date as activity_date
    from {{ ref('stg_billing__enterprise_summaries') }}
),

actor_keys as (
    select * from {{ ref('int_identity__actor_keys') }}
),

reported as (
    select
        enterprise.usage_date as activity_date,
        coalesce(by_account.user_key, by_email.user_key) as user_key,
        enterprise.user_account_id,
        coalesce(enterprise.cowork_distinct_session_count, 0)
        + coalesce(enterprise.claude_code_distinct_session_count, 0) as sessions,
        coalesce(enterprise.cowork_message_count, 0) as cowork_messages,
        coalesce(enterprise.cowork_action_count, 0) as cowork_actions
    from {{ ref('stg_billing__enterprise_users') }} as enterprise
    left join actor_keys as by_account
        on
            by_account.identifier_kind = 'account_id'
            and enterprise.user_account_id = by_account.identifier
    left join actor_keys as by_email
        on
            by_email.identifier_kind = 'email'
            and enterprise.user_email = by_email.identifier
),

otel_sessions as (
    select
        user_key,
        event_date as activity_date,
        count(distinct session_id) as sessions
    from {{ ref('int_otel__daily_sessions') }}
    where event_date in (select covered_days.activity_date from covered_days)
    group by user_key, event_date
),

otel_cowork as (
    select
        user_key,
        event_date as activity_date,
        sum(prompts) as prompts,
        sum(tool_calls) as tool_calls
    from {{ ref('int_otel__daily_activity') }}
    where
        product = 'cowork'
        and event_date in (select covered_days.activity_date from covered_days)
    group by user_key, event_date
),

telemetry as (
    select
        coalesce(otel_sessions.user_key, otel_cowork.user_key) as user_key,
        coalesce(otel_sessions.activity_date, otel_cowork.activity_date) as activity_date,
        coalesce(otel_sessions.sessions, 0) as sessions,
        coalesce(otel_cowork.prompts, 0) as cowork_prompts,
        coalesce(otel_cowork.tool_calls, 0) as cowork_tool_calls
    from otel_sessions
    full outer join otel_cowork
        on
            otel_sessions.user_key = otel_cowork.user_key
            and otel_sessions.activity_date = otel_cowork.activity_date
),

joined as (
    select
        coalesce(reported.activity_date, telemetry.activity_date) as activity_date,
        coalesce(reported.user_key, telemetry.user_key) as user_key,
        coalesce(reported.user_account_id, people.user_account_id) as user_account_id,
        reported.activity_date is not null as is_in_enterprise_report,
        telemetry.activity_date is not null as is_in_telemetry,
        coalesce(telemetry.sessions, 0) as otel_sessions,
        coalesce(reported.sessions, 0) as enterprise_sessions,
        coalesce(telemetry.cowork_prompts, 0) as otel_cowork_prompts,
        coalesce(reported.cowork_messages, 0) as enterprise_cowork_messages,
        coalesce(telemetry.cowork_tool_calls, 0) as otel_cowork_tool_calls,
        coalesce(reported.cowork_actions, 0) as enterprise_cowork_actions
    from reported
    full outer join telemetry
        on
            reported.user_key = telemetry.user_key
            and reported.activity_date = telemetry.activity_date
    left join {{ ref('int_identity__people') }} as people
        on coalesce(reported.user_key, telemetry.user_key) = people.user_key
),

final as (
    select
        cast(activity_date as string)
        || '|' || coalesce(user_key, 'account:' || user_account_id) as activity_reconciliation_id,
        activity_date,
        user_key,
        user_account_id,
        is_in_enterprise_report,
        is_in_telemetry,
        cast(otel_sessions as bigint) as otel_sessions,
        cast(enterprise_sessions as bigint) as enterprise_sessions,
        cast(otel_cowork_prompts as bigint) as otel_cowork_prompts,
        cast(enterprise_cowork_messages as bigint) as enterprise_cowork_messages,
        cast(otel_cowork_tool_calls as bigint) as otel_cowork_tool_calls,
        cast(enterprise_cowork_actions as bigint) as enterprise_cowork_actions,
        case
            when not is_in_telemetry then 'not_in_telemetry'
            when not is_in_enterprise_report then 'not_in_enterprise_report'
            when
                otel_sessions <> enterprise_sessions
                or otel_cowork_prompts <> enterprise_cowork_messages
                or otel_cowork_tool_calls <> enterprise_cowork_actions
                then 'counts_differ'
        end as reason
    from joined
)

select * from final
