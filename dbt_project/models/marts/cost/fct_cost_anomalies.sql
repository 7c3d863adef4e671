{#- A person's or a team's day whose cost is far above that subject's own usual: more than
    `cost_anomaly_mad_multiplier` robust standard deviations (1.4826 × the median absolute
    deviation, MAD) above the median of its days with cost in the previous
    `cost_anomaly_window_days` days, and at least `cost_anomaly_min_excess_usd` above it.
    Median and MAD rather than mean and standard deviation, so one earlier spike neither
    hides the next nor flags the days after it. Only days with cost form the baseline (a
    day off is not a cheap day), and a subject needs `cost_anomaly_min_history_days` of
    them before it is judged. Each anomaly names what drove it that day: the model, the
    tool (fct_cost_by_tool; cost that consumed no tool result is not a tool) and the
    session (fct_sessions, by the day it started) with the most cost. -#}

with

user_days as (
    select
        user_key,
        activity_date,
        -- The team of the day is the same on every model row of the person's day.
        coalesce(max(team_name), '(no team)') as team_name,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_cost_daily') }}
    group by user_key, activity_date
),

subject_days as (
    select
        'user' as subject_kind,
        user_key as subject,
        user_key,
        team_name,
        activity_date,
        cost_usd
    from user_days
    union all
    select
        'team' as subject_kind,
        team_name as subject,
        cast(null as string) as user_key,
        team_name,
        activity_date,
        sum(cost_usd) as cost_usd
    from user_days
    group by team_name, activity_date
),

history as (
    select
        judged.subject_kind,
        judged.subject,
        judged.activity_date,
        earlier.cost_usd as earlier_cost_usd
    from subject_days as judged
    inner join subject_days as earlier
        on
            judged.subject_kind = earlier.subject_kind
            and judged.subject = earlier.subject
            and judged.activity_date > earlier.activity_date
            and earlier.activity_date >= {{ dbt.dateadd(
                'day', -var('cost_anomaly_window_days'), 'judged.activity_date'
            ) }}
),

medians as (
    select
        subject_kind,
        subject,
        activity_date,
        count(*) as history_days,
        {{ cowork_analytics.percentile('earlier_cost_usd', 0.5) }} as baseline_median_usd
    from history
    group by subject_kind, subject, activity_date
),

baselines as (
    select
        medians.subject_kind,
        medians.subject,
        medians.activity_date,
        medians.history_days,
        medians.baseline_median_usd,
        {{ cowork_analytics.percentile(
            'abs(history.earlier_cost_usd - medians.baseline_median_usd)', 0.5
        ) }} as baseline_mad_usd
    from medians
    inner join history
        on
            medians.subject_kind = history.subject_kind
            and medians.subject = history.subject
            and medians.activity_date = history.activity_date
    group by
        medians.subject_kind,
        medians.subject,
        medians.activity_date,
        medians.history_days,
        medians.baseline_median_usd
),

anomalies as (
    select
        subject_days.*,
        baselines.history_days,
        baselines.baseline_median_usd,
        baselines.baseline_mad_usd,
        baselines.baseline_median_usd
        + {{ var('cost_anomaly_mad_multiplier') }} * 1.4826 * baselines.baseline_mad_usd
            as threshold_usd
    from subject_days
    inner join baselines
        on
            subject_days.subject_kind = baselines.subject_kind
            and subject_days.subject = baselines.subject
            and subject_days.activity_date = baselines.activity_date
    where
        baselines.history_days >= {{ var('cost_anomaly_min_history_days') }}
        and subject_days.cost_usd > baselines.baseline_median_usd
        + {{ var('cost_anomaly_mad_multiplier') }} * 1.4826 * baselines.baseline_mad_usd
        and subject_days.cost_usd - baselines.baseline_median_usd
        >= {{ var('cost_anomaly_min_excess_usd') }}
),

-- The person-days each anomaly covers: the person's own, or every member's that day.
covered as (
    select
        anomalies.subject_kind,
        anomalies.subject,
        anomalies.activity_date,
        user_days.user_key
    from anomalies
    inner join user_days
        on
            anomalies.activity_date = user_days.activity_date
            and (
                (anomalies.subject_kind = 'user' and anomalies.subject = user_days.user_key)
                or (anomalies.subject_kind = 'team' and anomalies.subject = user_days.team_name)
            )
),

{%- set drivers = {
    'model': ('fct_cost_daily', 'model', "1 = 1"),
    'tool': ('fct_cost_by_tool', 'tool_name', "driver.tool_name != '(model)'"),
    'session': ('fct_sessions', 'session_id', "1 = 1"),
} %}

driver_costs as (
    {% for kind, (relation, column, condition) in drivers.items() %}
        select
            covered.subject_kind,
            covered.subject,
            covered.activity_date,
            '{{ kind }}' as driver_kind,
            driver.{{ column }} as driver,
            sum(driver.cost_usd) as cost_usd
        from covered
        inner join {{ ref(relation) }} as driver
            on
                covered.user_key = driver.user_key
                and covered.activity_date = driver.activity_date
        where {{ condition }}
        group by
            covered.subject_kind, covered.subject, covered.activity_date, driver.{{ column }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ranked_drivers as (
    select
        *,
        row_number() over (
            partition by subject_kind, subject, activity_date, driver_kind
            order by cost_usd desc nulls last, driver asc nulls last
        ) as driver_rank
    from driver_costs
),

top_drivers as (
    select
        subject_kind,
        subject,
        activity_date,
        max(case when driver_kind = 'model' then driver end) as top_model,
        max(case when driver_kind = 'model' then cost_usd end) as top_model_cost_usd,
        max(case when driver_kind = 'tool' then driver end) as top_tool,
        max(case when driver_kind = 'tool' then cost_usd end) as top_tool_cost_usd,
        max(case when driver_kind = 'session' then driver end) as top_session,
        max(case when driver_kind = 'session' then cost_usd end) as top_session_cost_usd
    from ranked_drivers
    where driver_rank = 1
    group by subject_kind, subject, activity_date
),

final as (
    select
        anomalies.subject_kind
        || '|' || anomalies.subject
        || '|' || cast(anomalies.activity_date as string) as cost_anomaly_id,
        anomalies.subject_kind,
        anomalies.user_key,
        anomalies.team_name,
        anomalies.activity_date,
        cast(anomalies.cost_usd as decimal(38, 9)) as cost_usd,
        cast(anomalies.baseline_median_usd as decimal(38, 9)) as baseline_median_usd,
        cast(anomalies.baseline_mad_usd as decimal(38, 9)) as baseline_mad_usd,
        cast(anomalies.threshold_usd as decimal(38, 9)) as threshold_usd,
        cast(anomalies.cost_usd - anomalies.baseline_median_usd as decimal(38, 9))
            as excess_usd,
        {{ decimal_rounded(
            '(anomalies.cost_usd - anomalies.baseline_median_usd)'
            ~ ' / nullif(1.4826 * anomalies.baseline_mad_usd, 0)',
            18,
            2,
        ) }} as robust_z_score,
        cast(anomalies.history_days as bigint) as history_days,
        top_drivers.top_model,
        cast(top_drivers.top_model_cost_usd as decimal(38, 9)) as top_model_cost_usd,
        top_drivers.top_tool,
        cast(top_drivers.top_tool_cost_usd as decimal(38, 9)) as top_tool_cost_usd,
        top_drivers.top_session as top_session_id,
        cast(top_drivers.top_session_cost_usd as decimal(38, 9)) as top_session_cost_usd
    from anomalies
    left join top_drivers
        on
            anomalies.subject_kind = top_drivers.subject_kind
            and anomalies.subject = top_drivers.subject
            and anomalies.activity_date = top_drivers.activity_date
)

select * from final
