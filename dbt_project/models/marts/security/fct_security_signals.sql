{#- One row per signal worth a security analyst's look, with who, when, evidence and
    severity. Evidence never repeats a secret: a command that holds a credential is cited
    by its tool call id and the kinds of credential, not its text. Tool signals read the
    classification made at landing, so privacy `strict` gives the same signals as
    `standard`; only `target` differs (a keyed hash).
      - sensitive_path_access (high; medium when the call was rejected): a tool touched
        SSH keys, .env files, cloud credentials, key stores or browser profiles;
      - secret_in_command (high): a command or other tool input holds a token, key or
        password (the kinds in the evidence);
      - new_tool / new_mcp_server (medium): first use in the organisation, after the first
        `new_tool_baseline_days` of telemetry (everything is new at the start);
      - rejected_then_retried (medium): a call rejected by a person or policy, then run with
        the same tool and target in the same prompt;
      - otlp_settings_changed (high): the organisation's Cowork telemetry export settings
        changed (Compliance feed);
      - telemetry_silent (medium): a person active in Cowork per the Compliance feed whose
        client sent no telemetry that day although it had before. -#}

with

tool_calls as (
    select * from {{ ref('fct_tool_calls') }}
),

org_start as (
    select min(activity_date) as first_day from tool_calls
),

first_tools as (
    select
        tool_name,
        min_by(user_key, called_at) as user_key,
        min(called_at) as called_at,
        min_by(activity_date, called_at) as activity_date,
        min_by(tool_call_id, called_at) as tool_call_id
    from tool_calls
    group by tool_name
),

first_servers as (
    select
        mcp_server_name,
        min_by(tool_name, called_at) as tool_name,
        min_by(user_key, called_at) as user_key,
        min(called_at) as called_at,
        min_by(activity_date, called_at) as activity_date,
        min_by(tool_call_id, called_at) as tool_call_id
    from tool_calls
    where mcp_server_name is not null
    group by mcp_server_name
),

new_tools as (
    select
        'new_tool' as signal_type,
        'medium' as severity,
        first_tools.user_key,
        first_tools.called_at as detected_at,
        first_tools.activity_date,
        first_tools.tool_name,
        cast(null as string) as target,
        'first use of tool ' || first_tools.tool_name || ' in the organisation' as evidence,
        first_tools.tool_call_id as source_id
    from first_tools
    cross join org_start
    where
        first_tools.activity_date
        >= {{ dbt.dateadd('day', var('new_tool_baseline_days'), 'org_start.first_day') }}
    union all
    select
        'new_mcp_server' as signal_type,
        'medium' as severity,
        first_servers.user_key,
        first_servers.called_at as detected_at,
        first_servers.activity_date,
        first_servers.tool_name,
        first_servers.mcp_server_name as target,
        'first use of MCP server ' || first_servers.mcp_server_name || ' in the organisation'
            as evidence,
        first_servers.tool_call_id as source_id
    from first_servers
    cross join org_start
    where
        first_servers.activity_date
        >= {{ dbt.dateadd('day', var('new_tool_baseline_days'), 'org_start.first_day') }}
),

activities as (
    select * from {{ ref('stg_compliance_api__activities') }}
),

otlp_settings as (
    select
        'otlp_settings_changed' as signal_type,
        'high' as severity,
        md5('account:' || user_account_id) as user_key,
        activity_at as detected_at,
        activity_date,
        cast(null as string) as tool_name,
        cast(null as string) as target,
        'Cowork OpenTelemetry export settings changed' as evidence,
        activity_id as source_id
    from activities
    where activity_type = 'org_cowork_otlp_settings_updated'
),

otel_days as (
    select
        user_key,
        activity_date,
        api_requests + prompts + tool_calls as otel_events
    from {{ ref('fct_user_daily_activity') }}
),

first_otel_days as (
    select
        user_key,
        min(activity_date) as first_otel_day
    from otel_days
    where otel_events > 0
    group by user_key
),

cowork_feed_days as (
    select
        md5('account:' || user_account_id) as user_key,
        activity_date,
        min(activity_at) as first_activity_at,
        count(*) as feed_activities
    from activities
    where left(activity_type, 7) = 'cowork_' and user_account_id is not null
    group by user_account_id, activity_date
),

telemetry_silent as (
    select
        'telemetry_silent' as signal_type,
        'medium' as severity,
        feed.user_key,
        feed.first_activity_at as detected_at,
        feed.activity_date,
        cast(null as string) as tool_name,
        cast(null as string) as target,
        cast(feed.feed_activities as string)
        || ' Cowork activities in the Compliance feed, no telemetry that day' as evidence,
        feed.user_key || '|' || cast(feed.activity_date as string) as source_id
    from cowork_feed_days as feed
    inner join first_otel_days
        on
            feed.user_key = first_otel_days.user_key
            and feed.activity_date > first_otel_days.first_otel_day
    left join otel_days
        on
            feed.user_key = otel_days.user_key
            and feed.activity_date = otel_days.activity_date
    where coalesce(otel_days.otel_events, 0) = 0
),

tool_signals as (
    select
        signal_type,
        severity,
        user_key,
        detected_at,
        activity_date,
        tool_name,
        target,
        evidence,
        source_id
    from {{ ref('int_security__tool_signals') }}
),

unioned as (
    select * from tool_signals
    union all
    select * from new_tools
    union all
    select * from otlp_settings
    union all
    select * from telemetry_silent
),

final as (
    select
        md5(signal_type || '|' || source_id) as signal_id,
        signal_type,
        severity,
        user_key,
        detected_at,
        activity_date,
        tool_name,
        target,
        evidence,
        source_id
    from unioned
)

select * from final
