{{ config(materialized='table') }}

{#- Identity resolution: every distinct combination of identifiers a client sent (one
    `identity_fingerprint`) resolved to one person, by this precedence:
      1. `user.account_id` (the Compliance user id) when sent;
      2. `user.account_uuid`, when that uuid was seen together with an account id;
      3. the lower-cased e-mail, when the directory or an account-bearing event has it;
      4. third-party `enduser.id` (often an e-mail, matched like one), else as its own person;
      5. the device `user.id`, when that device was seen with exactly one account;
      6. `process.owner` (an OS login name), as its own person;
      7. last, the device `user.id` as an anonymous person.
    `user_key` is an md5 of the resolved person id, stable across runs. -#}

with

observed as (
    select
        identity_fingerprint,
        max(user_account_id) as user_account_id,
        max(user_account_uuid) as user_account_uuid,
        max(user_email) as user_email,
        max(enduser_id) as enduser_id,
        max(process_owner) as process_owner,
        max(device_id) as device_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        count(*) as events
    from {{ ref('stg_otel__events') }}
    group by identity_fingerprint
),

directory as (
    select
        user_account_id,
        user_email
    from {{ ref('stg_compliance_api__users') }}
),

-- One account per uuid, per e-mail and per device; ties broken by most events, then id.
uuid_accounts as (
    select
        user_account_uuid,
        user_account_id
    from observed
    where user_account_uuid is not null and user_account_id is not null
    qualify row_number() over (
        partition by user_account_uuid
        order by events desc nulls last, user_account_id asc nulls last
    ) = 1
),

email_candidates as (
    -- The directory is authoritative for e-mails; events only fill in where it is silent.
    select
        user_email,
        user_account_id,
        0 as preference,
        0 as events
    from directory
    where user_email is not null
    union all
    select
        user_email,
        user_account_id,
        1 as preference,
        events
    from observed
    where user_email is not null and user_account_id is not null
),

email_accounts as (
    select
        user_email,
        user_account_id
    from email_candidates
    qualify row_number() over (
        partition by user_email
        order by preference asc nulls last, events desc nulls last, user_account_id asc nulls last
    ) = 1
),

device_accounts as (
    select
        device_id,
        min(user_account_id) as user_account_id
    from observed
    where device_id is not null and user_account_id is not null
    group by device_id
    having count(distinct user_account_id) = 1
),

resolved as (
    select
        observed.*,
        case
            when observed.user_account_id is not null
                then 'account:' || observed.user_account_id
            when uuid_accounts.user_account_id is not null
                then 'account:' || uuid_accounts.user_account_id
            when by_email.user_account_id is not null
                then 'account:' || by_email.user_account_id
            when observed.user_email is not null
                then 'email:' || observed.user_email
            when by_enduser.user_account_id is not null
                then 'account:' || by_enduser.user_account_id
            when observed.enduser_id is not null
                then 'enduser:' || observed.enduser_id
            when device_accounts.user_account_id is not null
                then 'account:' || device_accounts.user_account_id
            when observed.process_owner is not null
                then 'process_owner:' || observed.process_owner
            else 'device:' || coalesce(observed.device_id, 'unknown')
        end as person_id,
        case
            when observed.user_account_id is not null then 'account_id'
            when uuid_accounts.user_account_id is not null then 'account_uuid'
            when observed.user_email is not null then 'email'
            when observed.enduser_id is not null then 'enduser_id'
            when device_accounts.user_account_id is not null then 'device_id'
            when observed.process_owner is not null then 'process_owner'
            else 'device_id'
        end as identity_source,
        -- 1 is the strongest evidence; a person seen several ways keeps the strongest.
        case
            when observed.user_account_id is not null then 1
            when uuid_accounts.user_account_id is not null then 2
            when observed.user_email is not null then 3
            when observed.enduser_id is not null then 4
            when device_accounts.user_account_id is not null then 5
            when observed.process_owner is not null then 6
            else 7
        end as identity_rank
    from observed
    left join uuid_accounts
        on observed.user_account_uuid = uuid_accounts.user_account_uuid
    left join email_accounts as by_email
        on observed.user_email = by_email.user_email
    left join email_accounts as by_enduser
        on lower(observed.enduser_id) = by_enduser.user_email
    left join device_accounts
        on observed.device_id = device_accounts.device_id
),

final as (
    select
        identity_fingerprint,
        person_id,
        md5(person_id) as user_key,
        identity_source,
        identity_rank,
        user_account_id,
        user_account_uuid,
        user_email,
        enduser_id,
        process_owner,
        device_id,
        events,
        first_seen_at,
        last_seen_at
    from resolved
)

select * from final
