{#- Claude Code Analytics per actor, UTC day, local or remote, and model: tokens and
    Anthropic's estimated cost at list prices (an estimate, never billed cost). -#}

with

source as (
    select * from {{ source('billing', 'claude_code_models') }}
),

renamed as (
    select
        usage_date,
        actor_type,
        lower(trim(email)) as user_email,
        api_key_name,
        is_remote,
        {{ normalise_model_id('model') }} as model,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_tokens,
        coalesce(cache_creation_tokens, 0) as cache_creation_tokens,
        estimated_cost_usd,
        pulled_at
    from source
)

select * from renamed
