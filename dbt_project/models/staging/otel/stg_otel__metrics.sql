{{ config(materialized='table') }}

{#- One row per metric data point (Claude Code's counters), deduplicated, with each point's
    increment: delta points are increments already; a cumulative series restarts with a new
    start time when its process restarts, so increments are taken within (series, start).
    Cost and tokens in the marts come from api_request events; these are a cross-check. -#}

with

source as (
    select * from {{ source('otel', 'metrics') }}
),

deduplicated as (
    {{ deduplicate_rare(
        'source', 'metric_point_id', 'landed_at, source_file_fingerprint, source_byte_offset'
    ) }}
),

keyed as (
    select
        *,
        {{ fingerprint([
            'metric_name', 'session_id', 'user_account_id', 'user_id', 'model', 'type',
            'query_source', 'speed', 'effort', 'tool_name', 'decision', 'source', 'language',
            'start_type', 'attributes_json',
        ]) }} as series_key
    from deduplicated
),

renamed as (
    select
        metric_point_id,
        series_key,
        metric_name,
        metric_type,
        unit,
        aggregation_temporality,
        session_id,
        nullif(trim(user_account_id), '') as user_account_id,
        nullif(lower(trim(user_email)), '') as user_email,
        nullif(trim(user_id), '') as device_id,
        service_name,
        {{ product_of_service('service_name') }} as product,
        model as model_id,
        {{ normalise_model_id('model') }} as model,
        type as token_type,
        value,
        case
            when aggregation_temporality = 'cumulative'
                then
                    value - coalesce(
                        lag(value) over (
                            partition by series_key, start_at order by point_at
                        ),
                        0
                    )
            else value
        end as increment,
        start_at,
        point_at,
        point_date,
        landed_at
    from keyed
)

select * from renamed
