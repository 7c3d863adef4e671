{#- Which team each person was in, as intervals [valid_from, valid_to) (null = open), so
    cost is attributed to the team of the event's day and a reorganisation does not rewrite
    past months. Two sources, the more specific winning on any day both cover:
      - `resource_tags` (precedence 1): the `team.id` the person's client sent on its events,
        dated by the events themselves;
      - `directory` (precedence 2): Compliance group memberships from the daily snapshots.
        The earliest snapshot also stands for the days before pulls began, and the latest
        for the days since. A move takes effect on the day the new membership was created
        (its `created_at`, UTC), not on the first snapshot showing it (pulls may be days
        apart), when that day falls after the last snapshot in the old group; otherwise
        on that first snapshot.
    A tag is named after the directory group whose slug it matches ("Data Science" <->
    `data-science`), else after the tag itself. -#}

with

team_groups as (
    select * from {{ ref('stg_compliance_api__groups') }}
),

tagged_named as (
    select
        tagged_days.user_key,
        tagged_days.event_date as day,
        coalesce(team_groups.group_name, tagged_days.tag_team_id) as team_name
    from {{ ref('int_otel__daily_tags') }} as tagged_days
    left join team_groups on tagged_days.tag_team_id = team_groups.group_slug
),

-- One membership per person and snapshot day (a person in several groups: the first by
-- name, deterministically).
directory_days as (
    select
        md5('account:' || members.user_account_id) as user_key,
        members.snapshot_date as day,
        team_groups.group_name as team_name,
        cast(members.membership_created_at as date) as member_since
    from {{ ref('stg_compliance_api__group_members') }} as members
    inner join team_groups on members.group_id = team_groups.group_id
    qualify row_number() over (
        partition by members.user_account_id, members.snapshot_date
        order by team_groups.group_name nulls last, team_groups.group_id nulls last
    ) = 1
),

observations as (
    select
        user_key,
        day,
        team_name,
        'resource_tags' as source,
        1 as precedence,
        cast(null as date) as member_since
    from tagged_named
    union all
    select
        user_key,
        day,
        team_name,
        'directory' as source,
        2 as precedence,
        member_since
    from directory_days
),

-- Gaps and islands: a new island starts whenever the team differs from the previous day
-- observed by the same source.
changes as (
    select
        *,
        case
            when
                lag(team_name) over (partition by user_key, source order by day nulls last)
                = team_name
                then 0
            else 1
        end as is_change
    from observations
),

islands as (
    select
        *,
        sum(is_change) over (
            partition by user_key, source order by day nulls last rows unbounded preceding
        ) as island
    from changes
),

intervals as (
    select
        user_key,
        source,
        precedence,
        team_name,
        island,
        min(day) as first_day,
        max(day) as last_day,
        min(member_since) as member_since
    from islands
    group by user_key, source, precedence, team_name, island
),

-- The day each interval starts: the membership's creation day when it falls between the
-- last observation of the previous interval and the first of this one.
after_previous as (
    select
        *,
        lag(last_day) over (
            partition by user_key, source order by island nulls last
        ) as previous_last_day
    from intervals
),

starts as (
    select
        *,
        case
            when member_since > previous_last_day and member_since < first_day
                then member_since
            else first_day
        end as starts_on
    from after_previous
),

final as (
    select
        user_key,
        team_name,
        source,
        precedence,
        -- The first interval of a source stands for the time before it was first observed.
        case when island > 1 then starts_on end as valid_from,
        lead(starts_on) over (partition by user_key, source order by island nulls last) as valid_to
    from starts
)

select * from final
