{#- What Anthropic bills per UTC day, split by product, model, cost type, token type and
    workspace. The day's total is the ungrouped figure; the grouped rows are a breakdown
    that keeps its top 100 groups only, so the part they leave out is one remainder row
    (`is_remainder`), computed as total − breakdown and never the other way round. The
    rows of a day therefore add up to exactly its billed total. -#}

with

totals as (
    select * from {{ ref('stg_billing__cost_totals') }}
),

breakdown as (
    select
        cost_date,
        billed_source,
        product,
        model,
        cost_type,
        token_type,
        workspace_id,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(list_cost_usd) as list_cost_usd,
        sum(billed_requests) as billed_requests
    from {{ ref('stg_billing__cost_breakdown') }}
    group by cost_date, billed_source, product, model, cost_type, token_type, workspace_id
),

attributed as (
    select
        cost_date,
        billed_source,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(list_cost_usd) as list_cost_usd
    from breakdown
    group by cost_date, billed_source
),

remainder as (
    select
        totals.cost_date,
        totals.billed_source,
        cast(null as string) as product,
        cast(null as string) as model,
        cast(null as string) as cost_type,
        cast(null as string) as token_type,
        cast(null as string) as workspace_id,
        cast(totals.billed_cost_usd as decimal(28, 12))
        - cast(coalesce(attributed.billed_cost_usd, 0) as decimal(28, 12)) as billed_cost_usd,
        cast(totals.list_cost_usd as decimal(28, 12))
        - cast(coalesce(attributed.list_cost_usd, 0) as decimal(28, 12)) as list_cost_usd,
        cast(null as bigint) as billed_requests
    from totals
    left join attributed
        on
            totals.cost_date = attributed.cost_date
            and totals.billed_source = attributed.billed_source
),

rows_of_days as (
    select
        *,
        false as is_remainder
    from breakdown  -- noqa: AM04
    -- Only breakdowns of days with a total count: a total is what the day is billed.
    where
        exists (
            select 1 from totals
            where
                totals.cost_date = breakdown.cost_date
                and totals.billed_source = breakdown.billed_source
        )
    union all
    select
        *,
        true as is_remainder
    from remainder  -- noqa: AM04
    where billed_cost_usd <> 0 or list_cost_usd <> 0
),

final as (
    select
        cast(rows_of_days.cost_date as string)
        || '|' || rows_of_days.billed_source
        || '|' || coalesce(rows_of_days.product, '')
        || '|' || coalesce(rows_of_days.model, '')
        || '|' || coalesce(rows_of_days.cost_type, '')
        || '|' || coalesce(rows_of_days.token_type, '')
        || '|' || coalesce(rows_of_days.workspace_id, '')
        || '|' || cast(rows_of_days.is_remainder as string) as billed_cost_daily_id,
        rows_of_days.cost_date,
        rows_of_days.billed_source,
        rows_of_days.product,
        rows_of_days.model,
        rows_of_days.cost_type,
        rows_of_days.token_type,
        rows_of_days.workspace_id,
        rows_of_days.is_remainder,
        cast(rows_of_days.billed_cost_usd as decimal(38, 12)) as billed_cost_usd,
        cast(rows_of_days.list_cost_usd as decimal(38, 12)) as list_cost_usd,
        cast(rows_of_days.billed_requests as bigint) as billed_requests,
        -- Anthropic may restate a day's cost for about 30 days after it.
        rows_of_days.cost_date > {{ dbt.dateadd(
            'day',
            -var('billed_cost_provisional_days'),
            'cast(coalesce(totals.data_refreshed_at, totals.pulled_at) as date)',
        ) }} as is_provisional,
        totals.data_refreshed_at,
        totals.pulled_at
    from rows_of_days
    inner join totals
        on
            rows_of_days.cost_date = totals.cost_date
            and rows_of_days.billed_source = totals.billed_source
)

select * from final
