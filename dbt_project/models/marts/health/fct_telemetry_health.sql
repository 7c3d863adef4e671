{#- How complete and clean the telemetry is, per day and source, so readers know how far to
    trust the other marts. Sources: `otel:cowork`, `otel:claude_code` (and other OTel
    streams) and `compliance_api`. -#}

with

otel as (
    select
        'otel:' || product as source,
        event_date as activity_date,
        events,
        people,
        unknown_event_names,
        events_without_email,
        events_without_account,
        sequence_gap_events,
        duplicate_deliveries,
        late_arrivals
    from {{ ref('int_otel__daily_health') }}
),

compliance as (
    select
        'compliance_api' as source,
        activity_date,
        count(*) as events,
        count(distinct user_account_id) as people,
        0 as unknown_event_names,
        count(case when user_email is null then 1 end) as events_without_email,
        count(case when user_account_id is null then 1 end) as events_without_account,
        0 as sequence_gap_events,
        0 as duplicate_deliveries,
        0 as late_arrivals
    from {{ ref('stg_compliance_api__activities') }}
    group by activity_date
),

unioned as (
    select * from otel
    union all
    select * from compliance
),

final as (
    select
        source || '|' || cast(activity_date as string) as telemetry_health_id,
        source,
        activity_date,
        cast(events as bigint) as events,
        cast(people as bigint) as people,
        cast(unknown_event_names as bigint) as unknown_event_names,
        cast(events_without_email as bigint) as events_without_email,
        cast(events_without_account as bigint) as events_without_account,
        cast(sequence_gap_events as bigint) as sequence_gap_events,
        cast(duplicate_deliveries as bigint) as duplicate_deliveries,
        cast(late_arrivals as bigint) as late_arrivals
    from unioned
)

select * from final
