with

source as (
    select * from {{ source('compliance_api', 'groups') }}
),

latest as (
    select *
    from source
    qualify row_number() over (partition by id order by snapshot_at desc) = 1
),

renamed as (
    select
        id as group_id,
        name as group_name,
        description as group_description,
        source_type
    from latest
)

select * from renamed
