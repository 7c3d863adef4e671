with

source as (
    select * from {{ source('otel', 'events') }}
),

-- Delivery is at least once: keep the first landed copy of each record.
deduplicated as (
    {{ deduplicate(
        'source', 'event_id', 'landed_at, source_file_fingerprint, source_byte_offset'
    ) }}
),

renamed as (
    select
        event_id,
        session_id,
        prompt_id,
        organization_id,
        user_account_id,
        user_account_uuid,
        user_id as device_id,
        lower(trim(user_email)) as user_email,
        event_name,
        service_name,
        service_version,
        terminal_type,
        model as model_id,
        {{ normalise_model_id('model') }} as pricing_model_id,
        tool_name,
        decision,
        -- Reported cost is a double with float noise; as a decimal it sums exactly.
        cast(cost_usd as decimal(38, 9)) as cost_usd,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_creation_tokens,
        duration_ms,
        ttft_ms,
        event_sequence,
        success as is_success,
        event_date,
        event_at,
        observed_at,
        landed_at
    from deduplicated
)

select * from renamed
