with

people as (
    select * from {{ ref('int_identity__people') }}
),

-- The team of each person's latest active day; else the directory's latest membership.
latest_active_team as (
    select
        user_key,
        team_name,
        department,
        cost_center
    from {{ ref('int_identity__daily_teams') }}
    qualify row_number() over (partition by user_key order by activity_date desc nulls last) = 1
),

open_team as (
    select
        history.user_key,
        history.team_name,
        teams.department,
        teams.cost_center
    from {{ ref('int_identity__team_history') }} as history
    left join {{ ref('int_identity__teams') }} as teams on history.team_name = teams.team_name
    where history.valid_to is null
    qualify
        row_number() over (partition by history.user_key order by history.precedence nulls last) = 1
),

final as (
    select
        people.user_key,
        people.user_account_id,
        people.user_account_uuid,
        people.user_email,
        people.full_name,
        people.organization_role,
        people.identity_source,
        coalesce(open_team.team_name, latest_active_team.team_name) as current_team_name,
        coalesce(open_team.department, latest_active_team.department) as current_department,
        coalesce(open_team.cost_center, latest_active_team.cost_center) as current_cost_center,
        people.is_in_directory,
        people.first_seen_at,
        people.last_seen_at
    from people
    left join latest_active_team on people.user_key = latest_active_team.user_key
    left join open_team on people.user_key = open_team.user_key
)

select * from final
