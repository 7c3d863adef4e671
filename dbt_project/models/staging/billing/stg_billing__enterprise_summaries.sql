{#- Enterprise Analytics per UTC day: active users (daily, weekly, monthly; overall, Cowork
    and Claude Code) and seats. -#}

with

source as (
    select * from {{ source('billing', 'enterprise_summaries') }}
),

renamed as (
    select
        usage_date,
        daily_active_user_count,
        weekly_active_user_count,
        monthly_active_user_count,
        cowork_daily_active_user_count,
        cowork_weekly_active_user_count,
        cowork_monthly_active_user_count,
        claude_code_daily_active_user_count,
        claude_code_weekly_active_user_count,
        claude_code_monthly_active_user_count,
        assigned_seat_count,
        pending_invite_count,
        pulled_at
    from source
)

select * from renamed
