with

source as (
    select * from {{ source('compliance_api', 'sessions') }}
),

-- Daily snapshots list a session again every day: keep its latest description.
latest as (
    {{ deduplicate('source', 'session_id', 'snapshot_at desc nulls last') }}
),

renamed as (
    select
        session_id as compliance_session_id,
        organization_uuid,
        workspace_id,
        user_id as user_account_id,
        lower(trim(user_email)) as user_email,
        product_surface,
        cast(created_at as {{ timestamp_tz() }}) as created_at,
        cast(cast(created_at as {{ timestamp_tz() }}) as date) as created_date
    from latest
)

select * from renamed
