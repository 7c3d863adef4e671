{#- Claude Code Analytics per actor, UTC day and local (CLI) or remote (Claude Code on the
    web) use. Users are named by e-mail, API actors by their key's name. -#}

with

source as (
    select * from {{ source('billing', 'claude_code_users') }}
),

renamed as (
    select
        usage_date,
        actor_type,
        lower(trim(email)) as user_email,
        api_key_name,
        is_remote,
        organization_id,
        customer_type,
        subscription_type,
        terminal_type,
        coalesce(sessions, 0) as sessions,
        coalesce(lines_added, 0) as lines_added,
        coalesce(lines_removed, 0) as lines_removed,
        coalesce(commits, 0) as commits,
        coalesce(pull_requests, 0) as pull_requests,
        coalesce(edits_accepted, 0) as edits_accepted,
        coalesce(edits_rejected, 0) as edits_rejected,
        tool_actions_json,
        pulled_at
    from source
)

select * from renamed
