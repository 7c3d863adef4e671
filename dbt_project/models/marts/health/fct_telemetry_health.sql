{#- How complete and clean the telemetry is, per day and source, so readers know how far to
    trust the other marts. Sources: `otel:cowork`, `otel:claude_code` (and other OTel
    streams) and `compliance_api`. -#}

with

events as (
    select * from {{ ref('int_otel__events') }}
),

known_event_names as (
    select event_name from {{ ref('otel_event_names') }}
),

gaps as (
    select
        event_id,
        missing_before
    from {{ ref('int_otel__event_gaps') }}
),

otel as (
    select
        'otel:' || events.product as source,
        events.event_date as activity_date,
        count(*) as events,
        count(*) filter (where known_event_names.event_name is null) as unknown_event_names,
        count(*) filter (where events.user_email is null) as events_without_email,
        count(*) filter (where events.user_account_id is null) as events_without_account,
        count(distinct events.user_key) as people,
        coalesce(sum(gaps.missing_before), 0) as sequence_gap_events
    from events
    left join known_event_names on events.event_name = known_event_names.event_name
    left join gaps on events.event_id = gaps.event_id
    group by 1, 2
),

deliveries as (
    select
        'otel:' || product as source,
        event_date as activity_date,
        landed_rows - distinct_events as duplicate_deliveries,
        late_arrivals
    from {{ ref('int_otel__deliveries') }}
),

compliance as (
    select
        'compliance_api' as source,
        activity_date,
        count(*) as events,
        0 as unknown_event_names,
        count(*) filter (where user_email is null) as events_without_email,
        count(*) filter (where user_account_id is null) as events_without_account,
        count(distinct user_account_id) as people,
        0 as sequence_gap_events
    from {{ ref('stg_compliance_api__activities') }}
    group by 1, 2
),

final as (
    select
        otel.source || '|' || cast(otel.activity_date as varchar) as telemetry_health_id,
        otel.source,
        otel.activity_date,
        cast(otel.events as bigint) as events,
        cast(otel.people as bigint) as people,
        cast(otel.unknown_event_names as bigint) as unknown_event_names,
        cast(otel.events_without_email as bigint) as events_without_email,
        cast(otel.events_without_account as bigint) as events_without_account,
        cast(otel.sequence_gap_events as bigint) as sequence_gap_events,
        cast(coalesce(deliveries.duplicate_deliveries, 0) as bigint) as duplicate_deliveries,
        cast(coalesce(deliveries.late_arrivals, 0) as bigint) as late_arrivals
    from otel
    left join deliveries
        on otel.source = deliveries.source and otel.activity_date = deliveries.activity_date
    union all
    select
        source || '|' || cast(activity_date as varchar) as telemetry_health_id,
        source,
        activity_date,
        cast(events as bigint) as events,
        cast(people as bigint) as people,
        cast(unknown_event_names as bigint) as unknown_event_names,
        cast(events_without_email as bigint) as events_without_email,
        cast(events_without_account as bigint) as events_without_account,
        cast(sequence_gap_events as bigint) as sequence_gap_events,
        cast(0 as bigint) as duplicate_deliveries,
        cast(0 as bigint) as late_arrivals
    from compliance
)

select * from final
