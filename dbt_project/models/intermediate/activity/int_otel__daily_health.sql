{{ config(**incremental_by_day('event_date')) }}

{#- Telemetry health per UTC day and product: events, unknown event names, events without
    e-mail or account, records missing inside a client process, duplicate deliveries and
    late arrivals. Incremental by whole days: changed days and days whose gaps changed. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

days as (
    select distinct event_date
    from {{ ref('stg_otel__events') }}
    {% if is_incremental() %}
        where event_date in (
            {{ changed_event_days_and(ref('int_otel__event_gaps'), 'event_date') }}
        )
    {% endif %}
),

known_event_names as (
    select event_name from {{ ref('otel_event_names') }}
),

events as (
    select
        events.event_date,
        events.product,
        count(*) as events,
        count(distinct events.user_key) as people,
        count(case when known_event_names.event_name is null then 1 end)
            as unknown_event_names,
        count(case when events.user_email is null then 1 end) as events_without_email,
        count(case when events.user_account_id is null then 1 end) as events_without_account
    from {{ ref('int_otel__events') }} as events
    left join known_event_names on events.event_name = known_event_names.event_name
    where events.event_date in (select days.event_date from days)
    group by events.event_date, events.product
),

gaps as (
    select
        event_date,
        product,
        sum(missing_before) as sequence_gap_events
    from {{ ref('int_otel__event_gaps') }}
    where event_date in (select days.event_date from days)
    group by event_date, product
),

deliveries as (
    select
        event_date,
        product,
        landed_rows - distinct_events as duplicate_deliveries,
        late_arrivals
    from {{ ref('int_otel__deliveries') }}
    where event_date in (select days.event_date from days)
),

final as (
    select
        events.event_date,
        events.product,
        events.events,
        events.people,
        events.unknown_event_names,
        events.events_without_email,
        events.events_without_account,
        coalesce(gaps.sequence_gap_events, 0) as sequence_gap_events,
        coalesce(deliveries.duplicate_deliveries, 0) as duplicate_deliveries,
        coalesce(deliveries.late_arrivals, 0) as late_arrivals,
        {{ run_started() }} as rebuilt_at
    from events
    left join gaps
        on events.event_date = gaps.event_date and events.product = gaps.product
    left join deliveries
        on events.event_date = deliveries.event_date and events.product = deliveries.product
)

select * from final
