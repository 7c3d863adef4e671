{#- One row per team: its directory group (if any) and the department and cost centre its
    members' clients tag it with (the most frequent pair). -#}

with

history as (
    select distinct team_name from {{ ref('int_identity__team_history') }}
),

team_groups as (
    select * from {{ ref('stg_compliance_api__groups') }}
),

tags as (
    select
        coalesce(team_groups.group_name, tags.tag_team_id) as team_name,
        tags.tag_department,
        tags.tag_cost_center,
        sum(tags.tagged_events) as events
    from {{ ref('int_otel__daily_tags') }} as tags
    left join team_groups on tags.tag_team_id = team_groups.group_slug
    group by 1, 2, 3
),

tag_attributes as (
    select * from tags
    qualify row_number() over (
        partition by team_name
        order by
            events desc nulls last, tag_department asc nulls last, tag_cost_center asc nulls last
    ) = 1
),

final as (
    select
        history.team_name,
        team_groups.group_id,
        tag_attributes.tag_department as department,
        tag_attributes.tag_cost_center as cost_center
    from history
    left join team_groups on history.team_name = team_groups.group_name
    left join tag_attributes on history.team_name = tag_attributes.team_name
)

select * from final
