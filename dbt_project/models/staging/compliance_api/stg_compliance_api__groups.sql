with

source as (
    select * from {{ source('compliance_api', 'groups') }}
),

-- The latest snapshot describes each group.
latest as (
    {{ deduplicate('source', 'id', 'snapshot_at desc nulls last') }}
),

renamed as (
    select
        id as group_id,
        name as group_name,
        description as group_description,
        source_type,
        -- How OTEL_RESOURCE_ATTRIBUTES tags name the team ("Data Science" -> data-science).
        lower(replace(trim(name), ' ', '-')) as group_slug
    from latest
)

select * from renamed
