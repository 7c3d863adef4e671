{#- Team spend per calendar month against the budget seed, with a month-end forecast for
    the month of `as_of_date` (the latest day with cost unless the `as_of_date` var is
    set): month-to-date spend plus, for each remaining day, the team's average cost on
    that weekday over the trailing 28 days (each weekday occurs exactly four times in 28
    days, so weekends forecast like weekends). The projected breach date is the first day
    the running total (actual, then forecast) exceeds the budget. Past months are actuals. -#}

with

daily as (
    select
        coalesce(team_name, '(no team)') as team_name,
        activity_date,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_cost_daily') }}
    group by 1, 2
),

as_of as (
    select
        coalesce(
            {% if var('as_of_date') %} cast('{{ var("as_of_date") }}' as date)
            {% else %} cast(null as date)
            {% endif %},
            max(activity_date)
        ) as as_of_date
    from daily
),

-- Spend observed up to and including the as-of day.
actual_days as (
    select
        daily.team_name,
        daily.activity_date as day,
        cast({{ dbt.date_trunc('month', 'daily.activity_date') }} as date) as month,
        daily.cost_usd,
        false as is_forecast
    from daily
    cross join as_of
    where daily.activity_date <= as_of.as_of_date
),

run_rates as (
    select
        daily.team_name,
        {{ weekday('daily.activity_date') }} as weekday,
        sum(daily.cost_usd) / 4 as cost_usd
    from daily
    cross join as_of
    where
        daily.activity_date <= as_of.as_of_date
        and daily.activity_date > {{ dbt.dateadd('day', -28, 'as_of.as_of_date') }}
    group by 1, 2
),

remaining_days as (
    {{ cowork_analytics.day_spine(
        dbt.dateadd('day', 1, '(select as_of_date from as_of)'),
        'cast(' ~ dbt.last_day('(select as_of_date from as_of)', 'month') ~ ' as date)'
    ) }}
),

forecast_days as (
    select
        run_rates.team_name,
        cast(remaining_days.spine_date as date) as day,
        cast({{ dbt.date_trunc('month', 'remaining_days.spine_date') }} as date) as month,
        run_rates.cost_usd,
        true as is_forecast
    from remaining_days
    inner join run_rates
        on {{ weekday('remaining_days.spine_date') }} = run_rates.weekday
),

all_days as (
    select * from actual_days
    union all
    select * from forecast_days
),

budgets as (
    select * from {{ ref('team_budgets') }}
),

running as (
    select
        all_days.*,
        budgets.monthly_budget_usd,
        sum(all_days.cost_usd) over (
            partition by all_days.team_name, all_days.month
            order by all_days.day nulls last
            rows unbounded preceding
        ) as running_cost_usd
    from all_days
    left join budgets
        on
            all_days.team_name = budgets.team_name
            and all_days.month >= budgets.valid_from
            and (budgets.valid_to is null or all_days.month < budgets.valid_to)
),

monthly as (
    select
        team_name,
        month,
        max(monthly_budget_usd) as budget_usd,
        coalesce(sum(cost_usd) filter (where not is_forecast), 0) as spend_usd,
        sum(cost_usd) as forecast_usd,
        min(day) filter (where running_cost_usd > monthly_budget_usd) as projected_breach_date
    from running
    group by 1, 2
),

final as (
    select
        monthly.team_name || '|' || cast(monthly.month as string) as team_cost_monthly_id,
        monthly.team_name,
        monthly.month,
        as_of.as_of_date,
        cast(monthly.budget_usd as decimal(38, 9)) as budget_usd,
        cast(monthly.spend_usd as decimal(38, 9)) as spend_usd,
        cast(monthly.forecast_usd as decimal(38, 9)) as forecast_usd,
        monthly.projected_breach_date,
        coalesce(monthly.spend_usd > monthly.budget_usd, false) as is_over_budget,
        coalesce(monthly.forecast_usd > monthly.budget_usd, false) as is_forecast_over_budget
    from monthly
    cross join as_of
)

select * from final
