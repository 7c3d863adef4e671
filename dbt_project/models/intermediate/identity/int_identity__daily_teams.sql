{{ config(materialized='table') }}

{#- The team of each person on each day they were active in either source: the interval of
    the team history covering that day with the best precedence. -#}

with

active_days as (
    select distinct
        user_key,
        event_date as activity_date
    from {{ ref('int_otel__daily_activity') }}
    union
    select distinct
        md5('account:' || user_account_id) as user_key,
        activity_date
    from {{ ref('stg_compliance_api__activities') }}
    where user_account_id is not null
),

history as (
    select * from {{ ref('int_identity__team_history') }}
),

matched as (
    select
        active_days.user_key,
        active_days.activity_date,
        history.team_name
    from active_days
    inner join history
        on
            active_days.user_key = history.user_key
            and (history.valid_from is null or active_days.activity_date >= history.valid_from)
            and (history.valid_to is null or active_days.activity_date < history.valid_to)
    qualify row_number() over (
        partition by active_days.user_key, active_days.activity_date
        order by history.precedence nulls last
    ) = 1
),

final as (
    select
        matched.user_key,
        matched.activity_date,
        matched.team_name,
        teams.department,
        teams.cost_center
    from matched
    left join {{ ref('int_identity__teams') }} as teams on matched.team_name = teams.team_name
)

select * from final
