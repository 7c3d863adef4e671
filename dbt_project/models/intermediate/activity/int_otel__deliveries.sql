{#- Delivery quality per event day and client stream, from the landed rows themselves
    (before deduplication): how many copies arrived, and how many records were late (landed
    more than `late_arrival_hours` after the first landing of their day). -#}

with

landed as (
    select
        event_date,
        service_name,
        event_id,
        landed_at,
        min(landed_at) over (partition by event_date) as day_first_landed_at
    from {{ source('otel', 'events') }}
),

final as (
    select
        event_date,
        {{ product_of_service('service_name') }} as product,
        count(*) as landed_rows,
        count(distinct event_id) as distinct_events,
        count(distinct case
            when
                landed_at > day_first_landed_at
                + interval '{{ var("late_arrival_hours") }} hours'
                then event_id
        end) as late_arrivals
    from landed
    group by 1, 2
)

select * from final
