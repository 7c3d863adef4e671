{{ config(**incremental_by_day('activity_date')) }}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

select
    tool_call_id,
    session_id,
    prompt_id,
    user_key,
    product,
    called_at,
    activity_date,
    tool_name,
    tool_kind,
    mcp_server_name,
    skill_name,
    decision,
    decision_source,
    is_success,
    duration_ms,
    result_size_bytes,
    error_type,
    {{ run_started() }} as rebuilt_at
from {{ ref('int_otel__tool_calls') }}
{% if is_incremental() %}
    where activity_date in ({{ changed_event_days() }})
{% endif %}
