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
      - new_mcp_server_for_person (low): a person's first use of an MCP server or connector
        (telemetry, or `integration_user_connected` in the Compliance feed, whichever came
        first), after the same baseline; not raised for the call that is already the
        organisation's new_mcp_server;
      - new_egress_domain (medium): the first call that reached a registrable domain never
        reached before in the organisation, after the same baseline (rejected calls reached
        nothing);
      - rejected_decisions_burst (medium): at least `rejection_burst_count` tool calls of one
        person rejected within `rejection_burst_minutes` minutes; one signal per burst (rejections
        no further apart than the window belong to the same burst), at its first rejection that
        reaches the count;
      - rejected_then_retried (medium): a call rejected by a person or policy, then run with
        the same tool and target in the same prompt;
      - otlp_settings_changed (high): the organisation's Cowork telemetry export settings
        changed (Compliance feed); the evidence names the settings that changed, never their
        values (an endpoint or header may hold a credential);
      - telemetry_silent (medium): a person active in Cowork per the Compliance feed whose
        client sent no telemetry that day although it had before. -#}

with

tool_calls as (
    select * from {{ ref('fct_tool_calls') }}
),

access as (
    select * from {{ ref('fct_tool_file_access') }}
),

activities as (
    select * from {{ ref('stg_compliance_api__activities') }}
),

org_start as (
    select min(activity_date) as first_day from tool_calls
),

-- The first call of each tool, MCP server and egress domain: one whole row each, ties
-- broken by the call id, so person, time and call always come from the same call.
first_tools as (
    {{ deduplicate('tool_calls', 'tool_name', 'called_at nulls last, tool_call_id nulls last') }}
),

server_calls as (
    select * from tool_calls
    where mcp_server_name is not null
),

first_servers as (
    {{ deduplicate(
        'server_calls', 'mcp_server_name', 'called_at nulls last, tool_call_id nulls last'
    ) }}
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

person_server_uses as (
    select
        user_key,
        mcp_server_name,
        called_at as used_at,
        activity_date,
        tool_name,
        tool_call_id as source_id,
        'first use of MCP server ' || mcp_server_name || ' by this person' as evidence
    from access
    where mcp_server_name is not null
    union all
    select
        md5('account:' || user_account_id) as user_key,
        {{ json_text('details_json', 'mcp_server_name') }} as mcp_server_name,
        activity_at as used_at,
        activity_date,
        cast(null as string) as tool_name,
        activity_id as source_id,
        'connected connector ' || coalesce({{ json_text('details_json', 'integration_type') }}, '')
        || ' (MCP server ' || {{ json_text('details_json', 'mcp_server_name') }}
        || ') for the first time' as evidence
    from activities
    where
        activity_type = 'integration_user_connected'
        and user_account_id is not null
        and {{ json_text('details_json', 'mcp_server_name') }} is not null
),

first_person_servers as (
    {{ deduplicate(
        'person_server_uses',
        'user_key, mcp_server_name',
        'used_at nulls last, source_id nulls last'
    ) }}
),

new_person_servers as (
    select
        'new_mcp_server_for_person' as signal_type,
        'low' as severity,
        first_person_servers.user_key,
        first_person_servers.used_at as detected_at,
        first_person_servers.activity_date,
        first_person_servers.tool_name,
        first_person_servers.mcp_server_name as target,
        first_person_servers.evidence,
        first_person_servers.source_id
    from first_person_servers
    cross join org_start
    left join first_servers
        on first_person_servers.source_id = first_servers.tool_call_id
    where
        first_person_servers.activity_date
        >= {{ dbt.dateadd('day', var('new_tool_baseline_days'), 'org_start.first_day') }}
        and first_servers.tool_call_id is null
),

-- Calls that reached a domain: a rejected call reached nothing.
egress_calls as (
    select * from access
    where egress_domain is not null and decision = 'accept'
),

first_domains as (
    {{ deduplicate(
        'egress_calls', 'egress_domain', 'called_at nulls last, tool_call_id nulls last'
    ) }}
),

new_domains as (
    select
        'new_egress_domain' as signal_type,
        'medium' as severity,
        first_domains.user_key,
        first_domains.called_at as detected_at,
        first_domains.activity_date,
        first_domains.tool_name,
        first_domains.egress_domain as target,
        first_domains.tool_name || ' reached ' || first_domains.egress_domain
        || ', a domain never reached before in the organisation' as evidence,
        first_domains.tool_call_id as source_id
    from first_domains
    cross join org_start
    where
        first_domains.activity_date
        >= {{ dbt.dateadd('day', var('new_tool_baseline_days'), 'org_start.first_day') }}
),

rejections as (
    select
        user_key,
        tool_call_id,
        called_at,
        activity_date,
        tool_name,
        {{ epoch_seconds('called_at') }} as called_epoch
    from access
    where decision = 'reject'
),

-- Each rejection with the number of the person's rejections in the window ending at it.
rejection_windows as (
    select
        later.user_key,
        later.tool_call_id,
        later.called_at,
        later.activity_date,
        later.tool_name,
        later.called_epoch,
        count(*) as rejections_in_window
    from rejections as later
    inner join rejections as earlier
        on
            later.user_key = earlier.user_key
            and earlier.called_epoch
            between later.called_epoch - {{ var('rejection_burst_minutes') * 60 }}
            and later.called_epoch
    group by
        later.user_key,
        later.tool_call_id,
        later.called_at,
        later.activity_date,
        later.tool_name,
        later.called_epoch
),

burst_rejections as (
    select
        *,
        lag(called_epoch) over (
            partition by user_key order by called_epoch nulls last, tool_call_id nulls last
        ) as previous_epoch
    from rejection_windows
    where rejections_in_window >= {{ var('rejection_burst_count') }}
),

numbered_bursts as (
    select
        *,
        sum(
            case
                when
                    previous_epoch is null
                    or called_epoch - previous_epoch > {{ var('rejection_burst_minutes') * 60 }}
                    then 1
                else 0
            end
        ) over (
            partition by user_key
            order by called_epoch nulls last, tool_call_id nulls last
            rows between unbounded preceding and current row
        ) as burst_number
    from burst_rejections
),

rejection_bursts as (
    select
        'rejected_decisions_burst' as signal_type,
        'medium' as severity,
        user_key,
        called_at as detected_at,
        activity_date,
        tool_name,
        cast(null as string) as target,
        cast(peak_rejections as string) || ' tool calls rejected within '
        || cast({{ var('rejection_burst_minutes') }} as string) || ' minutes' as evidence,
        tool_call_id as source_id
    from (
        select
            *,
            max(rejections_in_window) over (partition by user_key, burst_number)
                as peak_rejections,
            row_number() over (
                partition by user_key, burst_number
                order by called_epoch nulls last, tool_call_id nulls last
            ) as burst_position
        from numbered_bursts
    ) as members
    where burst_position = 1
),

-- The names of the settings that changed, never their values.
otlp_changes as (
    select
        *,
        concat_ws(
            ', ',
            case
                when
                    coalesce({{ json_text('details_json', 'new_otlp_endpoint') }}, '')
                    <> coalesce({{ json_text('details_json', 'previous_otlp_endpoint') }}, '')
                    then 'endpoint'
            end,
            case
                when
                    coalesce({{ json_text('details_json', 'new_otlp_protocol') }}, '')
                    <> coalesce({{ json_text('details_json', 'previous_otlp_protocol') }}, '')
                    then 'protocol'
            end,
            case
                when
                    coalesce({{ json_text('details_json', 'new_otlp_content_capture') }}, '')
                    <> coalesce(
                        {{ json_text('details_json', 'previous_otlp_content_capture') }}, ''
                    )
                    then 'content capture'
            end,
            case
                when
                    coalesce({{ json_text('details_json', 'new_otlp_resource_attributes') }}, '')
                    <> coalesce(
                        {{ json_text('details_json', 'previous_otlp_resource_attributes') }}, ''
                    )
                    then 'resource attributes'
            end,
            case
                when
                    coalesce({{ json_text('details_json', 'otlp_headers_change') }}, '')
                    not in ('', 'false', 'none', 'unchanged')
                    then 'headers'
            end
        ) as changed_settings
    from activities
    where activity_type = 'org_cowork_otlp_settings_updated'
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
        'Cowork OpenTelemetry export settings changed: '
        || coalesce(nullif(changed_settings, ''), 'no setting named') as evidence,
        activity_id as source_id
    from otlp_changes
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
    select * from new_person_servers
    union all
    select * from new_domains
    union all
    select * from rejection_bursts
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
