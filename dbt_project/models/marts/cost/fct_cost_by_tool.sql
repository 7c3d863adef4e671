{{ config(**incremental_by_day('activity_date')) }}

{#- The attribution rule lives in int_otel__tool_cost_allocation: each API request's cost is
    split evenly across the tool results it consumed, or goes to `(model)`. Cost and
    attributed requests count on the request's day; tool calls on their own day (a result
    logged just before midnight and consumed just after counts on both days accordingly).
    Incremental by day: days whose allocations or tool calls were rebuilt in this run. -#}

-- depends_on: {{ ref('stg_otel__events') }}

{% if is_incremental() %}
    {% set days %}
        {{ rebuilt_days_query(ref('int_otel__tool_cost_allocation'), 'activity_date') }}
        union
        {{ rebuilt_days_query(ref('fct_tool_calls'), 'activity_date') }}
    {% endset %}
    {% set rebuild_days = date_literals(days) %}
{% endif %}

with

-- Cost and requests on the request's day.
attributed as (
    select
        activity_date,
        user_key,
        tool_name,
        coalesce(mcp_server_name, '') as mcp_server_name,
        sum(request_share) as attributed_requests,
        sum(cost_usd) as cost_usd
    from {{ ref('int_otel__tool_cost_allocation') }}
    {% if is_incremental() %}
        where activity_date in ({{ rebuild_days }})
    {% endif %}
    group by activity_date, user_key, tool_name, coalesce(mcp_server_name, '')
),

-- Tool calls on their own day, as in the other daily marts.
calls as (
    select
        activity_date,
        user_key,
        tool_name,
        coalesce(mcp_server_name, '') as mcp_server_name,
        count(*) as tool_calls
    from {{ ref('fct_tool_calls') }}
    where
        decision = 'accept'
    {% if is_incremental() %}
            and activity_date in ({{ rebuild_days }})
        {% endif %}
    group by activity_date, user_key, tool_name, coalesce(mcp_server_name, '')
),

grouped as (
    select
        coalesce(attributed.activity_date, calls.activity_date) as activity_date,
        coalesce(attributed.user_key, calls.user_key) as user_key,
        coalesce(attributed.tool_name, calls.tool_name) as tool_name,
        coalesce(attributed.mcp_server_name, calls.mcp_server_name) as mcp_server_name,
        coalesce(attributed.attributed_requests, 0) as attributed_requests,
        coalesce(calls.tool_calls, 0) as tool_calls,
        coalesce(attributed.cost_usd, 0) as cost_usd
    from attributed
    full outer join calls
        on
            attributed.activity_date = calls.activity_date
            and attributed.user_key = calls.user_key
            and attributed.tool_name = calls.tool_name
            and attributed.mcp_server_name = calls.mcp_server_name
),

final as (
    select
        user_key
        || '|' || cast(activity_date as string)
        || '|' || tool_name
        || '|' || mcp_server_name as cost_by_tool_id,
        activity_date,
        user_key,
        tool_name,
        mcp_server_name,
        cast(attributed_requests as decimal(18, 9)) as attributed_requests,
        cast(tool_calls as bigint) as tool_calls,
        cast(cost_usd as decimal(38, 9)) as cost_usd,
        {{ run_started() }} as rebuilt_at
    from grouped
)

select * from final
