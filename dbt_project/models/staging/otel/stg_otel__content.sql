{{ config(**incremental_by_day('event_date')) }}

{#- The restricted content area joined back only by the security marts. Under privacy
    `full` the text is on the events themselves, so both are read. Incremental by whole
    event days: the days the events staging re-staged in this run. -#}

-- depends_on: {{ ref('stg_otel__events') }}

{% if is_incremental() %}
    {% set restaged_days = date_literals(rebuilt_days_query(ref('stg_otel__events'), 'event_date')) %}
{% endif %}

with

split_off as (
    select
        event_id,
        event_date,
        tool_input,
        tool_parameters
    from {{ source('otel', 'content') }}
    where
        (tool_input is not null or tool_parameters is not null)
    {% if is_incremental() %}
            and event_date in ({{ restaged_days }})
        {% endif %}
),

in_place as (
    select
        event_id,
        event_date,
        tool_input,
        tool_parameters
    from {{ source('otel', 'events') }}
    where
        event_name in ('tool_result', 'tool_decision')
        and (tool_input is not null or tool_parameters is not null)
    {% if is_incremental() %}
            and event_date in ({{ restaged_days }})
        {% endif %}
),

combined as (
    select * from split_off
    union all
    select * from in_place
),

deduplicated as (
    {{ deduplicate('combined', 'event_id', 'tool_input nulls last') }}
),

renamed as (
    select
        event_id,
        event_date,
        tool_input,
        tool_parameters,
        coalesce(
            {{ json_text('tool_input', 'file_path') }},
            {{ json_text('tool_input', 'path') }},
            {{ json_text('tool_input', 'notebook_path') }}
        ) as target_path,
        {{ json_text('tool_input', 'command') }} as target_command,
        {{ json_text('tool_input', 'url') }} as target_url,
        {{ json_text('tool_input', 'pattern') }} as target_pattern,
        {{ json_text('tool_parameters', 'mcp_server_name') }} as mcp_server_name,
        {{ json_text('tool_parameters', 'mcp_tool_name') }} as mcp_tool_name,
        {{ json_text('tool_parameters', 'skill_name') }} as skill_name,
        {{ run_started() }} as rebuilt_at
    from deduplicated
)

select * from renamed
