with

source as (
    select * from {{ source('compliance_api', 'activities') }}
),

-- Overlapping pulls and a page fetched again after a crash may land an id twice.
deduplicated as (
    {{ deduplicate('source', 'activity_id', 'landed_at nulls last') }}
),

renamed as (
    select
        activity_id,
        organization_id,
        organization_uuid,
        activity_type,
        actor_type,
        actor_user_id as user_account_id,
        lower(trim(actor_email_address)) as user_email,
        actor_ip_address as ip_address,
        actor_user_agent as user_agent,
        details_json,
        created_date as activity_date,
        created_at as activity_at,
        landed_at
    from deduplicated
)

select * from renamed
