{#- The attribution rule lives in int_otel__tool_cost_allocation: each API request's cost is
    split evenly across the tool results it consumed, or goes to `(model)`. -#}

with

allocation as (
    select * from {{ ref('int_otel__tool_cost_allocation') }}
),

tool_calls as (
    select
        tool_call_id,
        mcp_server_name
    from {{ ref('int_otel__tool_calls') }}
),

grouped as (
    select
        allocation.activity_date,
        allocation.user_key,
        allocation.tool_name,
        coalesce(tool_calls.mcp_server_name, '') as mcp_server_name,
        sum(allocation.request_share) as attributed_requests,
        count(distinct allocation.tool_call_id) as tool_calls,
        sum(allocation.cost_usd) as cost_usd
    from allocation
    left join tool_calls on allocation.tool_call_id = tool_calls.tool_call_id
    group by 1, 2, 3, 4
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
