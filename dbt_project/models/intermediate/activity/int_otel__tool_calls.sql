{#- One row per tool call: each `tool_result`, plus each `tool_decision` that rejected a
    call (a rejected call has no result). MCP tools are named `mcp__<server>__<tool>`; the
    server also comes from `tool_parameters` when the client sent them, as the landing read
    it before privacy `strict` hashed the parameters (records landed before it read them:
    from the parameters as landed). -#}

with

events as (
    select * from {{ ref('int_otel__events') }}
    where
        event_name = 'tool_result'
        or (event_name = 'tool_decision' and decision = 'reject')
),

details as (
    select
        event_id,
        mcp_server_name,
        skill_name
    from {{ ref('stg_otel__content') }}
),

final as (
    select
        events.event_id as tool_call_id,
        events.session_id,
        events.prompt_id,
        events.user_key,
        events.product,
        events.event_at as called_at,
        events.event_date as activity_date,
        events.tool_name,
        case
            when
                left(events.tool_name, 5) = 'mcp__'
                or events.tool_name = 'mcp_tool'
                or events.mcp_server_scope is not null
                or events.mcp_server_name is not null
                or details.mcp_server_name is not null
                then 'mcp'
            when events.tool_name = 'Skill' then 'skill'
            else 'builtin'
        end as tool_kind,
        coalesce(
            case
                when left(events.tool_name, 5) = 'mcp__'
                    then nullif(split_part(events.tool_name, '__', 2), '')
            end,
            events.mcp_server_name,
            details.mcp_server_name
        ) as mcp_server_name,
        details.skill_name,
        case
            when events.event_name = 'tool_decision' then 'reject'
            else coalesce(events.decision, 'accept')
        end as decision,
        events.decision_source,
        case when events.event_name = 'tool_result' then events.is_success end as is_success,
        events.duration_ms,
        events.tool_result_size_bytes as result_size_bytes,
        events.error_type
    from events
    left join details on events.event_id = details.event_id
)

select * from final
