{{ config(**incremental_by_day('activity_date')) }}

{#- The security view of tool use: who ran which tool on which path, command, URL, search
    pattern or MCP server, with the permission decision and its source, beside the IP
    address and user agent the Compliance feed saw for that person that day. Under privacy
    `strict` the landing already replaced targets with keyed hashes, so they group without
    being readable; under `standard` this and fct_security_signals are the only marts that
    show targets. The target's class, the kinds of secrets seen and the egress domain were
    read at landing, before any hashing, so they are the same in every mode. Incremental by day: days whose tool calls were rebuilt, and days with
    Compliance activities landed since the last build (their IP and user agent). -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

{% if is_incremental() %}
    {% set days %}
        {{ rebuilt_days_query(ref('fct_tool_calls'), 'activity_date') }}
        union
        select distinct activity_date
        from {{ ref('stg_compliance_api__activities') }}
        where landed_at > {{ last_rebuilt() }}
    {% endset %}
    {% set rebuild_days = date_literals(days) %}
{% endif %}

with

tool_calls as (
    select * from {{ ref('fct_tool_calls') }}
    {% if is_incremental() %}
        where activity_date in ({{ rebuild_days }})
    {% endif %}
),

targets as (
    select * from {{ ref('stg_otel__content') }}
    {% if is_incremental() %}
        where event_date in ({{ rebuild_days }})
    {% endif %}
),

classified as (
    select
        event_id,
        target_class,
        sensitive_kind,
        secret_kinds,
        egress_domain
    from {{ ref('stg_otel__events') }}
    where
        event_name in ('tool_result', 'tool_decision')
    {% if is_incremental() %}
            and event_date in ({{ rebuild_days }})
        {% endif %}
),

-- The person's last Compliance activity of the day carries the IP and client they used.
daily_client as (
    select
        md5('account:' || user_account_id) as user_key,
        activity_date,
        ip_address,
        user_agent
    from {{ ref('stg_compliance_api__activities') }}
    where user_account_id is not null and ip_address is not null
    qualify row_number() over (
        partition by user_account_id, activity_date
        order by activity_at desc nulls last, activity_id asc nulls last
    ) = 1
),

final as (
    select
        tool_calls.tool_call_id,
        tool_calls.user_key,
        tool_calls.session_id,
        tool_calls.prompt_id,
        tool_calls.product,
        tool_calls.called_at,
        tool_calls.activity_date,
        tool_calls.tool_name,
        tool_calls.tool_kind,
        tool_calls.mcp_server_name,
        case
            when targets.target_path is not null then 'path'
            when targets.target_command is not null then 'command'
            when targets.target_url is not null then 'url'
            when targets.target_pattern is not null then 'pattern'
            when tool_calls.mcp_server_name is not null then 'mcp_server'
        end as target_kind,
        coalesce(
            targets.target_path,
            targets.target_command,
            targets.target_url,
            targets.target_pattern,
            tool_calls.mcp_server_name
        ) as target,
        classified.target_class,
        classified.sensitive_kind,
        classified.secret_kinds,
        classified.egress_domain,
        tool_calls.decision,
        tool_calls.decision_source,
        tool_calls.is_success,
        daily_client.ip_address,
        daily_client.user_agent,
        {{ run_started() }} as rebuilt_at
    from tool_calls
    left join targets on tool_calls.tool_call_id = targets.event_id
    left join classified on tool_calls.tool_call_id = classified.event_id
    left join daily_client
        on
            tool_calls.user_key = daily_client.user_key
            and tool_calls.activity_date = daily_client.activity_date
)

select * from final
