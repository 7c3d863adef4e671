{#- How the billing and analytics reports' actors find their person: by account id (the
    `user_…` id), else by e-mail, the only identifier some reports give. One row per
    identifier: an e-mail two people share belongs to the one with a directory account
    (then the smaller key), so a join never multiplies rows. -#}

with

people as (
    select * from {{ ref('int_identity__people') }}
),

by_account as (
    select
        'account_id' as identifier_kind,
        user_account_id as identifier,
        user_key
    from people
    where user_account_id is not null
),

by_email as (
    select
        'email' as identifier_kind,
        user_email as identifier,
        user_key
    from people
    where user_email is not null
    qualify row_number() over (
        partition by user_email
        order by
            case when user_account_id is not null then 0 else 1 end nulls last,
            user_key nulls last
    ) = 1
)

select * from by_account
union all
select * from by_email
