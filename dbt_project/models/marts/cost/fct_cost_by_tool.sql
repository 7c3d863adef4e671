{#- The attribution rule lives in int_otel__tool_cost_allocation: each API request's cost is
    split evenly across the tool results it consumed, or goes to `(model)`. -#}

with

grouped as (
    select
        activity_date,
        user_key,
        tool_name,
        coalesce(mcp_server_name, '') as mcp_server_name,
        sum(request_share) as attributed_requests,
        count(distinct tool_call_id) as tool_calls,
        sum(cost_usd) as cost_usd
    from {{ ref('int_otel__tool_cost_allocation') }}
    group by activity_date, user_key, tool_name, coalesce(mcp_server_name, '')
),

final as (
    select
        user_key
        || '|' || cast(activity_date as varchar)
        || '|' || tool_name
        || '|' || mcp_server_name as cost_by_tool_id,
        activity_date,
        user_key,
        tool_name,
        mcp_server_name,
        cast(attributed_requests as decimal(18, 9)) as attributed_requests,
        cast(tool_calls as bigint) as tool_calls,
        cast(cost_usd as decimal(38, 9)) as cost_usd
    from grouped
)

select * from final
