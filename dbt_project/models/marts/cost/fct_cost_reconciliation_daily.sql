{#- Reported (OTel), recomputed (price list) and billed cost side by side per UTC day,
    product and model, with the difference and, where it is known, its reason:
      - `not_in_telemetry`: billed cost types that OTel does not carry (web search...),
        while the token cost matches;
      - `telemetry_gap`: billed token cost exceeds what telemetry reported (requests whose
        events never reached the collector);
      - `provisional`: billed below reported on a day Anthropic may still restate;
      - `not_billed`: billed below reported on a settled day;
      - `unattributed`: the part of a day's bill its breakdown leaves out (top 100 groups);
      - `no_billed_figure`: a day no billing pull has covered.
    Days billed through the legacy cost report have no product: their rows compare all
    products at once (`product` = '(all)'). Claude Code Analytics' estimate is shown beside
    the Claude Code rows; it is an estimate, never billed cost. -#}

with

billed_days as (
    select
        cost_date,
        billed_source
    from {{ ref('stg_billing__cost_totals') }}
),

-- The legacy report does not split cost by product.
day_products as (
    select
        cost_date,
        billed_source = 'admin_legacy' as is_without_product
    from billed_days
),

reported as (
    select
        daily_usage.event_date as cost_date,
        case when day_products.is_without_product then '(all)' else daily_usage.product end
            as product,
        daily_usage.model,
        sum(daily_usage.cost_usd) as reported_cost_usd,
        sum({{ recomputed_cost_usd('daily_usage', 'prices') }}) as recomputed_cost_usd,
        sum(daily_usage.api_requests) as reported_requests
    from {{ ref('int_otel__daily_model_usage') }} as daily_usage
    left join {{ ref('model_prices') }} as prices
        on {{ price_valid_on('prices', 'daily_usage.model', 'daily_usage.event_date') }}
    left join day_products on daily_usage.event_date = day_products.cost_date
    group by
        daily_usage.event_date,
        case when day_products.is_without_product then '(all)' else daily_usage.product end,
        daily_usage.model
),

billed_rows as (
    select
        billed_cost.cost_date,
        case
            when billed_cost.is_remainder then '(unattributed)'
            when day_products.is_without_product then '(all)'
            else coalesce(billed_cost.product, 'other')
        end as product,
        case
            when billed_cost.is_remainder then '(unattributed)'
            else coalesce(billed_cost.model, '(unknown)')
        end as model,
        billed_cost.billed_cost_usd,
        billed_cost.cost_type,
        billed_cost.is_remainder,
        billed_cost.is_provisional
    from {{ ref('fct_billed_cost_daily') }} as billed_cost
    inner join day_products on billed_cost.cost_date = day_products.cost_date
),

billed as (
    select
        cost_date,
        product,
        model,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(
            case
                when not is_remainder and cost_type <> 'tokens' then billed_cost_usd
            end
        ) as not_in_telemetry_usd,
        max(is_remainder) as is_remainder,
        max(is_provisional) as is_provisional
    from billed_rows
    group by cost_date, product, model
),

estimated_rows as (
    select
        estimates.usage_date as cost_date,
        estimates.model,
        estimates.estimated_cost_usd,
        case when day_products.is_without_product then '(all)' else 'claude_code' end
            as product
    from {{ ref('stg_billing__claude_code_models') }} as estimates
    left join day_products on estimates.usage_date = day_products.cost_date
),

estimated as (
    select
        cost_date,
        product,
        model,
        sum(estimated_cost_usd) as claude_code_estimated_cost_usd
    from estimated_rows
    group by cost_date, product, model
),

covered as (
    select
        cost_date,
        max(cost_date) over () as newest_cost_date
    from billed_days
),

keys as (
    select
        cost_date,
        product,
        model
    from reported
    union
    select
        cost_date,
        product,
        model
    from billed
    union
    select
        cost_date,
        product,
        model
    from estimated
),

joined as (
    select
        keys.cost_date,
        keys.product,
        keys.model,
        cast(coalesce(reported.reported_cost_usd, 0) as decimal(28, 12)) as reported_cost_usd,
        cast(coalesce(reported.recomputed_cost_usd, 0) as decimal(28, 12))
            as recomputed_cost_usd,
        coalesce(reported.reported_requests, 0) as reported_requests,
        -- A day a billing pull covered is billed nothing where it has no billed row.
        case
            when covered.cost_date is not null
                then cast(coalesce(billed.billed_cost_usd, 0) as decimal(28, 12))
        end as billed_cost_usd,
        case
            when covered.cost_date is not null
                then cast(coalesce(billed.not_in_telemetry_usd, 0) as decimal(28, 12))
        end as not_in_telemetry_usd,
        cast(estimated.claude_code_estimated_cost_usd as decimal(28, 12))
            as claude_code_estimated_cost_usd,
        coalesce(billed.is_remainder, false) as is_unattributed,
        coalesce(
            billed.is_provisional,
            keys.cost_date > {{ dbt.dateadd(
                'day', -var('billed_cost_provisional_days'), 'covered.newest_cost_date'
            ) }},
            false
        ) as is_provisional
    from keys
    left join reported
        on
            keys.cost_date = reported.cost_date
            and keys.product = reported.product
            and keys.model = reported.model
    left join billed
        on
            keys.cost_date = billed.cost_date
            and keys.product = billed.product
            and keys.model = billed.model
    left join estimated
        on
            keys.cost_date = estimated.cost_date
            and keys.product = estimated.product
            and keys.model = estimated.model
    left join covered
        on keys.cost_date = covered.cost_date
),

compared as (
    select
        joined.*,
        joined.billed_cost_usd - joined.reported_cost_usd as difference_usd,
        -- The token part: what billed and reported should agree on.
        joined.billed_cost_usd - joined.not_in_telemetry_usd - joined.reported_cost_usd
            as token_difference_usd
    from joined
),

final as (
    select
        cast(compared.cost_date as string) || '|' || compared.product || '|' || compared.model
            as cost_reconciliation_id,
        compared.cost_date,
        compared.product,
        compared.model,
        cast(compared.reported_requests as bigint) as reported_requests,
        cast(compared.reported_cost_usd as decimal(38, 12)) as reported_cost_usd,
        cast(compared.recomputed_cost_usd as decimal(38, 12)) as recomputed_cost_usd,
        cast(compared.billed_cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(compared.not_in_telemetry_usd as decimal(38, 12)) as not_in_telemetry_usd,
        cast(compared.difference_usd as decimal(38, 12)) as difference_usd,
        cast(
            case
                when compared.reported_cost_usd <> 0
                    then compared.difference_usd / compared.reported_cost_usd
            end
            as decimal(38, 6)
        ) as difference_ratio,
        case
            when compared.billed_cost_usd is null then 'no_billed_figure'
            when compared.is_unattributed then 'unattributed'
            when compared.token_difference_usd > {{ var('billed_cost_match_tolerance_usd') }}
                then 'telemetry_gap'
            when compared.token_difference_usd < -{{ var('billed_cost_match_tolerance_usd') }}
                then case when compared.is_provisional then 'provisional' else 'not_billed' end
            when compared.not_in_telemetry_usd <> 0 then 'not_in_telemetry'
        end as reason,
        cast(compared.claude_code_estimated_cost_usd as decimal(38, 12))
            as claude_code_estimated_cost_usd,
        compared.is_provisional
    from compared
)

select * from final
