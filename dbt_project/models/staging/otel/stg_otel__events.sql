{{ config(**incremental_by_day('event_date')) }}

{#- Incremental by whole event days: each run re-stages every day that received records in
    the last `late_arrival_lookback_hours` before the newest landing already staged, so a
    late record (an old event_date landed today) rebuilds its day, and the day is rebuilt
    whole, deduplicated, exactly as a full refresh would build it. -#}

with

source as (
    select * from {{ source('otel', 'events') }}
    {% if is_incremental() %}
        where event_date in (
            {{ date_literals(days_landed_since_last_build(source('otel', 'events'), 'event_date')) }}
        )
    {% endif %}
),

-- Delivery is at least once: keep the first landed copy of each record.
deduplicated as (
    {{ deduplicate_rare(
        'source', 'event_id', 'landed_at nulls last, source_file_fingerprint nulls last, source_byte_offset nulls last'
    ) }}
),

-- OTEL_RESOURCE_ATTRIBUTES tags and third-party identities are not typed columns in the
-- landing: tags are copied onto every record, identities sit on the resource.
with_open_attributes as (
    select
        *,
        coalesce(
            {{ json_text('attributes_json', 'team.id') }},
            {{ json_text('resource_json', 'team.id') }}
        ) as tag_team_id,
        coalesce(
            {{ json_text('attributes_json', 'department') }},
            {{ json_text('resource_json', 'department') }}
        ) as tag_department,
        coalesce(
            {{ json_text('attributes_json', 'cost_center') }},
            {{ json_text('resource_json', 'cost_center') }}
        ) as tag_cost_center,
        coalesce(
            {{ json_text('resource_json', 'enduser.id') }},
            {{ json_text('attributes_json', 'enduser.id') }}
        ) as raw_enduser_id,
        coalesce(
            {{ json_text('resource_json', 'process.owner') }},
            {{ json_text('attributes_json', 'process.owner') }}
        ) as raw_process_owner
    from deduplicated
),

renamed as (
    select
        -- ids
        event_id,
        session_id,
        prompt_id,
        agent_id,
        organization_id,
        nullif(trim(user_account_id), '') as user_account_id,
        nullif(trim(user_account_uuid), '') as user_account_uuid,
        nullif(trim(user_id), '') as device_id,
        nullif(lower(trim(user_email)), '') as user_email,
        nullif(trim(raw_enduser_id), '') as enduser_id,
        nullif(trim(raw_process_owner), '') as process_owner,
        request_id,
        tool_use_id,

        -- what happened
        event_name,
        service_name,
        service_version,
        {{ product_of_service('service_name') }} as product,
        terminal_type,
        os_type,
        host_arch,
        query_source,
        speed,
        effort,

        -- model and cost: reported cost is a double with float noise; as a decimal the
        -- sum is exact and equals the client's own session total. Amounts that cannot be
        -- (negative, infinite, NaN) are null: see the non_negative macro.
        model as model_id,
        {{ normalise_model_id('model') }} as model,
        cast({{ non_negative('cost_usd') }} as decimal(38, 9)) as cost_usd,
        {{ non_negative('cost_usd_micros') }} as cost_usd_micros,
        {{ non_negative('input_tokens') }} as input_tokens,
        {{ non_negative('output_tokens') }} as output_tokens,
        {{ non_negative('cache_read_tokens') }} as cache_read_tokens,
        {{ non_negative('cache_creation_tokens') }} as cache_creation_tokens,
        {{ non_negative('cache_creation_5m_tokens') }} as cache_creation_5m_tokens,
        {{ non_negative('cache_creation_1h_tokens') }} as cache_creation_1h_tokens,
        {{ non_negative('duration_ms') }} as duration_ms,
        {{ non_negative('ttft_ms') }} as ttft_ms,

        -- errors and retries
        status_code,
        error_type,
        attempt,
        total_attempts,

        -- tools
        tool_name,
        success as is_success,
        coalesce(decision, decision_type) as decision,
        coalesce(source, decision_source) as decision_source,
        mcp_server_scope,
        tool_result_size_bytes,

        -- what a tool call touched, classified at landing before privacy hashed it
        -- (ingestion/otel/security.py): the same in every privacy mode
        target_class,
        sensitive_kind,
        secret_kinds,
        egress_domain,
        mcp_server_name,
        mcp_tool_name,
        prompt_length,
        response_length,

        -- team tags (OTEL_RESOURCE_ATTRIBUTES)
        nullif(trim(tag_team_id), '') as tag_team_id,
        nullif(trim(tag_department), '') as tag_department,
        nullif(trim(tag_cost_center), '') as tag_cost_center,

        -- one person's identifiers, as one join key for identity resolution
        {{ fingerprint([
            'trim(user_account_id)',
            'trim(user_account_uuid)',
            'lower(trim(user_email))',
            'trim(raw_enduser_id)',
            'trim(raw_process_owner)',
            'trim(user_id)',
        ]) }} as identity_fingerprint,

        -- time and lineage
        event_sequence,
        event_date,
        event_at,
        observed_at,
        landed_at,
        -- When this run (re)built the row: incremental models downstream rebuild what changed.
        cast('{{ run_started_at }}' as {{ timestamp_tz() }}) as rebuilt_at,
        source_file_fingerprint
    from with_open_attributes
)

select * from renamed
