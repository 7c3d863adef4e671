{#- Enterprise Analytics per user and UTC day: chat, Claude Code and Cowork counts, as
    Anthropic counts them from its own logs (not from the clients' telemetry). -#}

with

source as (
    select * from {{ source('billing', 'enterprise_users') }}
),

renamed as (
    select
        usage_date,
        user_id as user_account_id,
        lower(trim(email)) as user_email,
        chat_distinct_conversation_count,
        chat_message_count,
        claude_code_commit_count,
        claude_code_distinct_session_count,
        claude_code_lines_added_count,
        claude_code_lines_removed_count,
        claude_code_pull_request_count,
        cowork_action_count,
        cowork_connectors_used_count,
        cowork_dispatch_turn_count,
        cowork_distinct_session_count,
        cowork_file_edit_count,
        cowork_message_count,
        cowork_skills_used_count,
        claude_code_tool_actions_json,
        pulled_at
    from source
)

select * from renamed
