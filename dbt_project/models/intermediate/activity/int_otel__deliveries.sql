{{ config(**incremental_by_day('event_date')) }}

{#- Delivery quality per event day and client stream, from the landed rows themselves
    (before deduplication): how many copies arrived, and how many records were late (landed
    more than `late_arrival_hours` after the first landing of their day). Incremental by
    whole event days: the days the events staging re-staged in this run, and the days an
    erasure left to rebuild (still landed ones only can be: see erased_days_union). -#}

-- depends_on: {{ ref('stg_otel__events') }}

with

landed as (
    select
        event_date,
        service_name,
        event_id,
        landed_at
    from {{ source('otel', 'events') }}
    {% if is_incremental() %}
        where event_date in (
            {{ date_literals(
                rebuilt_days_query(ref('stg_otel__events'), 'event_date') ~ erased_days_union()
            ) }}
        )
    {% endif %}
),

day_first_landings as (
    select
        event_date,
        min(landed_at) as first_landed_at
    from landed
    group by event_date
),

final as (
    select
        landed.event_date,
        {{ product_of_service('landed.service_name') }} as product,
        count(*) as landed_rows,
        count(distinct landed.event_id) as distinct_events,
        count(distinct case
            when
                landed.landed_at > day_first_landings.first_landed_at
                + interval '{{ var("late_arrival_hours") }} hours'
                then landed.event_id
        end) as late_arrivals,
        {{ run_started() }} as rebuilt_at
    from landed
    inner join day_first_landings on landed.event_date = day_first_landings.event_date
    group by landed.event_date, {{ product_of_service('landed.service_name') }}
)

select * from final
