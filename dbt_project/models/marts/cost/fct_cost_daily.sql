with

-- One row per person, model and day: a person may use a model in both products.
daily as (
    select
        user_key,
        event_date as activity_date,
        model,
        sum(api_requests) as api_requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_creation_tokens) as cache_creation_tokens,
        sum(cache_creation_5m_tokens) as cache_creation_5m_tokens,
        sum(cache_creation_1h_tokens) as cache_creation_1h_tokens,
        sum(priced_5m_write_tokens) as priced_5m_write_tokens,
        sum(priced_1h_write_tokens) as priced_1h_write_tokens,
        sum(cost_usd) as cost_usd,
        sum(cost_usd_micros) as cost_usd_micros
    from {{ ref('int_otel__daily_model_usage') }}
    group by user_key, event_date, model
),

-- The price row valid on the day ([valid_from, valid_to), valid_to empty = still valid).
priced as (
    select
        daily.*,
        prices.model_id is not null as is_priced,
        {{ recomputed_cost_usd('daily', 'prices') }} as recomputed_cost_usd,
        cast(
            daily.cache_read_tokens
            * (prices.input_usd_per_mtok - prices.cache_read_usd_per_mtok)
            as decimal(28, 4)
        ) * cast(0.000001 as decimal(7, 6)) as cache_savings_usd
    from daily
    left join {{ ref('model_prices') }} as prices
        on {{ price_valid_on('prices', 'daily.model', 'daily.activity_date') }}
),

final as (
    select
        priced.user_key || '|' || priced.model || '|' || cast(priced.activity_date as string)
            as cost_daily_id,
        priced.user_key,
        priced.activity_date,
        priced.model,
        teams.team_name,
        teams.department,
        teams.cost_center,
        cast(priced.api_requests as bigint) as api_requests,
        cast(priced.input_tokens as bigint) as input_tokens,
        cast(priced.output_tokens as bigint) as output_tokens,
        cast(priced.cache_read_tokens as bigint) as cache_read_tokens,
        cast(priced.cache_creation_tokens as bigint) as cache_creation_tokens,
        cast(priced.cache_creation_5m_tokens as bigint) as cache_creation_5m_tokens,
        cast(priced.cache_creation_1h_tokens as bigint) as cache_creation_1h_tokens,
        cast(priced.cost_usd as decimal(38, 9)) as cost_usd,
        cast(priced.cost_usd_micros as bigint) as cost_usd_micros,
        cast(priced.recomputed_cost_usd as decimal(38, 9)) as recomputed_cost_usd,
        -- Narrower operands: Spark drops a decimal place from a difference of two
        -- decimal(38, 9) values (its result would need 40 digits).
        cast(
            cast(priced.cost_usd as decimal(28, 9))
            - cast(priced.recomputed_cost_usd as decimal(28, 9))
            as decimal(38, 9)
        ) as cost_difference_usd,
        cast(priced.cache_savings_usd as decimal(38, 9)) as cache_savings_usd,
        priced.is_priced
    from priced
    left join {{ ref('int_identity__daily_teams') }} as teams
        on
            priced.user_key = teams.user_key
            and priced.activity_date = teams.activity_date
)

select * from final
