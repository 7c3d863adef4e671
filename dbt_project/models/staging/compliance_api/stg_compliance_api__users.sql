with

source as (
    select * from {{ source('compliance_api', 'users') }}
),

-- The latest snapshot describes each current member; older ones keep the history.
latest as (
    select *
    from source
    qualify row_number() over (partition by id order by snapshot_at desc) = 1
),

renamed as (
    select
        id as user_account_id,
        organization_uuid,
        full_name,
        lower(trim(email)) as user_email,
        organization_role,
        cast(created_at as timestamp with time zone) as joined_at,
        snapshot_at as last_seen_in_directory_at
    from latest
)

select * from renamed
