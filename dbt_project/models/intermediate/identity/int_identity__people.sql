{#- One row per person known to either source: resolved OTel identities, the Compliance
    directory and the activity feed's actors. Events that lack an e-mail inherit the
    account's (directory first, then the most recent e-mail the person's clients sent). -#}

with

fingerprints as (
    select * from {{ ref('int_identity__fingerprints') }}
),

directory as (
    select * from {{ ref('stg_compliance_api__users') }}
),

activity_actors as (
    select
        user_account_id,
        max(user_email) as user_email,
        min(activity_at) as first_seen_at,
        max(activity_at) as last_seen_at
    from {{ ref('stg_compliance_api__activities') }}
    where user_account_id is not null
    group by user_account_id
),

otel_people as (
    select
        person_id,
        substr(min(identity_rank || ':' || identity_source), 3) as identity_source,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from fingerprints
    group by person_id
),

-- The most recent value each person's clients sent, for the fields the directory may lack.
otel_latest as (
    select
        person_id,
        max(user_account_uuid) as user_account_uuid,
        max(user_email) as user_email,
        max(enduser_id) as enduser_id,
        max(device_id) as device_id
    from (
        select
            person_id,
            {{ first_non_null('user_account_uuid') }} over latest_first as user_account_uuid,
            {{ first_non_null('user_email') }} over latest_first as user_email,
            {{ first_non_null('enduser_id') }} over latest_first as enduser_id,
            {{ first_non_null('device_id') }} over latest_first as device_id
        from fingerprints
        window latest_first as (
            partition by person_id
            order by last_seen_at desc nulls last, identity_fingerprint asc nulls last
            rows between unbounded preceding and unbounded following
        )
    ) as ranked
    group by person_id
),

all_people as (
    select person_id from otel_people
    union
    select 'account:' || user_account_id from directory
    union
    select 'account:' || user_account_id from activity_actors
),

final as (
    select
        md5(all_people.person_id) as user_key,
        all_people.person_id,
        case
            when all_people.person_id like 'account:%'
                then substr(all_people.person_id, length('account:') + 1)
        end as user_account_id,
        otel_latest.user_account_uuid,
        coalesce(
            directory.user_email, otel_latest.user_email, activity_actors.user_email,
            case
                when otel_latest.enduser_id like '%@%' then lower(otel_latest.enduser_id)
            end
        ) as user_email,
        directory.full_name,
        directory.organization_role,
        coalesce(otel_people.identity_source, 'account_id') as identity_source,
        directory.user_account_id is not null as is_in_directory,
        otel_latest.device_id as latest_device_id,
        least(otel_people.first_seen_at, activity_actors.first_seen_at) as first_seen_at,
        greatest(otel_people.last_seen_at, activity_actors.last_seen_at) as last_seen_at
    from all_people
    left join otel_people on all_people.person_id = otel_people.person_id
    left join otel_latest on all_people.person_id = otel_latest.person_id
    left join directory
        on all_people.person_id = 'account:' || directory.user_account_id
    left join activity_actors
        on all_people.person_id = 'account:' || activity_actors.user_account_id
)

select * from final
