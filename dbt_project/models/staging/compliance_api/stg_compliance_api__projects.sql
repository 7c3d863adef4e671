with

source as (
    select * from {{ source('compliance_api', 'projects') }}
),

latest as (
    {{ deduplicate('source', 'id', 'snapshot_at desc nulls last') }}
),

renamed as (
    select
        id as project_id,
        organization_uuid,
        user_id as user_account_id,
        lower(trim(user_email)) as user_email,
        is_private,
        cast(created_at as {{ timestamp_tz() }}) as created_at,
        cast(updated_at as {{ timestamp_tz() }}) as updated_at,
        cast(deleted_at as {{ timestamp_tz() }}) as deleted_at
    from latest
)

select * from renamed
