{{ config(**incremental_by_day('event_date')) }}

{#- OTel activity per person, UTC day and product: the additive part of the daily marts
    (distinct sessions are counted from int_otel__daily_sessions). Active time is the sum
    of the day's event gaps (int_otel__event_gaps). Incremental by whole days: changed
    days, and days whose gaps were recomputed (a late event changes the next one's gap). -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

events as (
    select * from {{ ref('int_otel__events') }}
    {% if is_incremental() %}
        where event_date in (
            {{ changed_event_days_and(ref('int_otel__event_gaps'), 'event_date') }}
        )
    {% endif %}
),

counts as (
    select
        user_key,
        event_date,
        product,
        {{ activity_totals() }}
    from events
    group by user_key, event_date, product
),

active as (
    select
        fingerprints.user_key,
        gaps.event_date,
        gaps.product,
        sum(gaps.active_seconds) as active_seconds
    from {{ ref('int_otel__event_gaps') }} as gaps
    inner join {{ ref('int_identity__fingerprints') }} as fingerprints
        on gaps.identity_fingerprint = fingerprints.identity_fingerprint
    where gaps.event_date in (select distinct events.event_date from events)
    group by fingerprints.user_key, gaps.event_date, gaps.product
),

final as (
    select
        counts.*,
        coalesce(active.active_seconds, 0) as active_seconds,
        {{ run_started() }} as rebuilt_at
    from counts
    left join active
        on
            counts.user_key = active.user_key
            and counts.event_date = active.event_date
            and counts.product = active.product
)

select * from final
