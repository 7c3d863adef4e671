with

source as (
    select * from {{ source('compliance_api', 'users') }}
),

-- The latest snapshot describes each current member; older ones keep the history.
latest as (
    {{ deduplicate('source', 'id', 'snapshot_at desc nulls last') }}
),

renamed as (
    select
        id as user_account_id,
        organization_uuid,
        full_name,
        lower(trim(email)) as user_email,
        organization_role,
        cast(created_at as {{ timestamp_tz() }}) as joined_at,
        snapshot_at as last_seen_in_directory_at
    from latest
)

select * from renamed
