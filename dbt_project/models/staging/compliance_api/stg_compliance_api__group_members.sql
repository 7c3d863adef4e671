with

source as (
    select * from {{ source('compliance_api', 'members') }}
),

-- One row per group membership on each day a snapshot was taken: the team history.
renamed as (
    select
        group_id,
        user_id as user_account_id,
        lower(trim(email)) as user_email,
        cast(snapshot_at as date) as snapshot_date,
        -- When the person was added to the group: the day of a move into it.
        cast(created_at as {{ timestamp_tz() }}) as membership_created_at,
        snapshot_at
    from source
    qualify row_number() over (
        partition by group_id, user_id, cast(snapshot_at as date)
        order by snapshot_at desc nulls last
    ) = 1
)

select * from renamed
