{#- Enterprise Analytics per UTC day: active users (daily, weekly, monthly; overall, Cowork
    and Claude Code) and seats. -#}

select * from {{ source('billing', 'enterprise_summaries') }}
