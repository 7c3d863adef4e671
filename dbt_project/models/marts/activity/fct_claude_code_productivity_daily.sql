{#- Claude Code Analytics per person, UTC day and local or remote use: sessions, lines of
    code, commits, pull requests, edit-tool decisions, tokens and Anthropic's estimated
    cost (at list prices; never billed cost). People are matched to `dim_users` by e-mail,
    the only identifier the report gives; API-key actors and unknown e-mails have no
    user_key. -#}

with

users as (
    select * from {{ ref('stg_billing__claude_code_users') }}
),

models as (
    select
        usage_date,
        actor_type,
        coalesce(user_email, '') as user_email,
        coalesce(api_key_name, '') as api_key_name,
        is_remote,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_creation_tokens) as cache_creation_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd
    from {{ ref('stg_billing__claude_code_models') }}
    group by 1, 2, 3, 4, 5
),

people_by_email as (
    select
        identifier as user_email,
        user_key
    from {{ ref('int_identity__actor_keys') }}
    where identifier_kind = 'email'
),

final as (
    select
        cast(users.usage_date as string)
        || '|' || users.actor_type
        || '|' || coalesce(users.user_email, '')
        || '|' || coalesce(users.api_key_name, '')
        || '|' || cast(users.is_remote as string) as claude_code_productivity_id,
        users.usage_date,
        people_by_email.user_key,
        users.user_email,
        users.api_key_name,
        users.actor_type,
        users.is_remote,
        users.subscription_type,
        users.terminal_type,
        cast(users.sessions as bigint) as sessions,
        cast(users.lines_added as bigint) as lines_added,
        cast(users.lines_removed as bigint) as lines_removed,
        cast(users.commits as bigint) as commits,
        cast(users.pull_requests as bigint) as pull_requests,
        cast(users.edits_accepted as bigint) as edits_accepted,
        cast(users.edits_rejected as bigint) as edits_rejected,
        cast(coalesce(models.input_tokens, 0) as bigint) as input_tokens,
        cast(coalesce(models.output_tokens, 0) as bigint) as output_tokens,
        cast(coalesce(models.cache_read_tokens, 0) as bigint) as cache_read_tokens,
        cast(coalesce(models.cache_creation_tokens, 0) as bigint) as cache_creation_tokens,
        cast(coalesce(models.estimated_cost_usd, 0) as decimal(38, 12)) as estimated_cost_usd
    from users
    left join people_by_email on users.user_email = people_by_email.user_email
    left join models
        on
            users.usage_date = models.usage_date
            and users.actor_type = models.actor_type
            and coalesce(users.user_email, '') = models.user_email
            and coalesce(users.api_key_name, '') = models.api_key_name
            and users.is_remote = models.is_remote
)

select * from final
