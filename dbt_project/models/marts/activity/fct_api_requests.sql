{{ config(**incremental_by_day('activity_date')) }}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

select
    event_id as api_request_id,
    request_id,
    session_id,
    prompt_id,
    user_key,
    product,
    event_at as requested_at,
    event_date as activity_date,
    model_id,
    model,
    speed,
    query_source,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_creation_tokens,
    cache_creation_5m_tokens,
    cache_creation_1h_tokens,
    cost_usd,
    cost_usd_micros,
    duration_ms,
    ttft_ms,
    {{ run_started() }} as rebuilt_at
from {{ ref('int_otel__events') }}
where
    event_name = 'api_request'
{% if is_incremental() %}
        and event_date in ({{ changed_event_days() }})
    {% endif %}
