with

source as (
    select * from {{ source('compliance_api', 'chats') }}
),

latest as (
    {{ deduplicate('source', 'id', 'snapshot_at desc nulls last') }}
),

renamed as (
    select
        id as chat_id,
        project_id,
        organization_uuid,
        user_id as user_account_id,
        lower(trim(user_email)) as user_email,
        model as model_id,
        cast(created_at as {{ timestamp_tz() }}) as created_at,
        cast(updated_at as {{ timestamp_tz() }}) as updated_at,
        cast(deleted_at as {{ timestamp_tz() }}) as deleted_at
    from latest
)

select * from renamed
