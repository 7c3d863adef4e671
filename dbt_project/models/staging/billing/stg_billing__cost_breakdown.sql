{#- Grouped billed cost per UTC day: a breakdown of the day's total, never added up into
    one (a day keeps its top 100 groups only). Model ids are normalised as the OTel ones
    are, so the two sources join; the legacy report has no product. -#}

with

source as (
    select * from {{ source('billing', 'cost_breakdown') }}
),

renamed as (
    select
        cost_date,
        source as billed_source,
        product,
        {{ normalise_model_id('model') }} as model,
        cost_type,
        token_type,
        workspace_id,
        description as cost_description,
        amount_usd as billed_cost_usd,
        list_amount_usd as list_cost_usd,
        requests as billed_requests,
        data_refreshed_at,
        pulled_at
    from source
)

select * from renamed
