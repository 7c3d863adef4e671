with

requests as (
    select
        user_key,
        event_date as activity_date,
        model,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_creation_tokens,
        cache_creation_5m_tokens,
        cache_creation_1h_tokens,
        -- Clients that do not split cache writes by lifetime are priced at the 5-minute rate.
        case
            when cache_creation_5m_tokens is null and cache_creation_1h_tokens is null
                then cache_creation_tokens
            else coalesce(cache_creation_5m_tokens, 0)
        end as priced_5m_write_tokens,
        coalesce(cache_creation_1h_tokens, 0) as priced_1h_write_tokens,
        cost_usd,
        cost_usd_micros
    from {{ ref('int_otel__events') }}
    where event_name = 'api_request'
),

daily as (
    select
        user_key,
        activity_date,
        coalesce(model, '(unknown)') as model,
        count(*) as api_requests,
        coalesce(sum(input_tokens), 0) as input_tokens,
        coalesce(sum(output_tokens), 0) as output_tokens,
        coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
        coalesce(sum(cache_creation_tokens), 0) as cache_creation_tokens,
        sum(cache_creation_5m_tokens) as cache_creation_5m_tokens,
        sum(cache_creation_1h_tokens) as cache_creation_1h_tokens,
        coalesce(sum(priced_5m_write_tokens), 0) as priced_5m_write_tokens,
        coalesce(sum(priced_1h_write_tokens), 0) as priced_1h_write_tokens,
        coalesce(sum(cost_usd), 0) as cost_usd,
        sum(cost_usd_micros) as cost_usd_micros
    from requests
    group by 1, 2, 3
),

-- The price row valid on the day ([valid_from, valid_to), valid_to empty = still valid).
priced as (
    select
        daily.*,
        prices.model_id is not null as is_priced,
        (
            daily.input_tokens * prices.input_usd_per_mtok
            + daily.output_tokens * prices.output_usd_per_mtok
            + daily.cache_read_tokens * prices.cache_read_usd_per_mtok
            + daily.priced_5m_write_tokens * prices.cache_write_5m_usd_per_mtok
            + daily.priced_1h_write_tokens * prices.cache_write_1h_usd_per_mtok
        ) / 1000000 as recomputed_cost_usd,
        daily.cache_read_tokens
        * (prices.input_usd_per_mtok - prices.cache_read_usd_per_mtok)
        / 1000000 as cache_savings_usd
    from daily
    left join {{ ref('model_prices') }} as prices
        on
            daily.model = prices.model_id
            and daily.activity_date >= prices.valid_from
            and (prices.valid_to is null or daily.activity_date < prices.valid_to)
),

final as (
    select
        priced.user_key || '|' || priced.model || '|' || cast(priced.activity_date as varchar)
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
        cast(priced.cost_usd - priced.recomputed_cost_usd as decimal(38, 9))
            as cost_difference_usd,
        cast(priced.cache_savings_usd as decimal(38, 9)) as cache_savings_usd,
        priced.is_priced
    from priced
    left join {{ ref('int_identity__daily_teams') }} as teams
        on
            priced.user_key = teams.user_key
            and priced.activity_date = teams.activity_date
)

select * from final
