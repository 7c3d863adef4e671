{#- The billed total of each UTC day, from the ungrouped cost request: the only figure a
    day's cost adds up to. Each day file holds exactly the latest pull's row (the landing
    rewrites days whole), so there is nothing to deduplicate. -#}

with

source as (
    select * from {{ source('billing', 'cost_totals') }}
),

renamed as (
    select
        cost_date,
        source as billed_source,
        amount_usd as billed_cost_usd,
        list_amount_usd as list_cost_usd,
        requests as billed_requests,
        data_refreshed_at,
        window_start,
        window_end,
        pulled_at
    from source
)

select * from renamed
