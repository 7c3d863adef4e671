{{ config(materialized='table') }}

{#- For each event, the time since the previous event of its session, and whether it opens
    a new client process. Active time is the sum of gaps no longer than
    `session_idle_gap_seconds` (the clients' own active-time fields are not trusted); a gap
    belongs to the day of the event that ends it. A resumed session runs in a new process
    whose `event.sequence` restarts, so a sequence that goes backwards opens a process. -#}

with

events as (
    select
        event_id,
        session_id,
        user_key,
        event_at,
        event_date,
        event_sequence,
        lag(event_at) over session_order as previous_event_at,
        lag(event_sequence) over session_order as previous_sequence
    from {{ ref('int_otel__events') }}
    where session_id is not null
    window session_order as (
        partition by session_id order by event_at, event_sequence, event_id
    )
),

final as (
    select
        event_id,
        session_id,
        user_key,
        event_at,
        event_date,
        event_sequence,
        cast(
            coalesce({{ seconds_between('previous_event_at', 'event_at') }}, 0)
            as decimal(18, 3)
        ) as gap_seconds,
        case
            when previous_event_at is null then 0
            when
                {{ seconds_between('previous_event_at', 'event_at') }}
                <= {{ var('session_idle_gap_seconds') }}
                then cast({{ seconds_between('previous_event_at', 'event_at') }} as decimal(18, 3))
            else 0
        end as active_seconds,
        previous_event_at is null or event_sequence < previous_sequence as opens_process,
        -- Sequence numbers skipped inside one process: records lost on the way.
        case
            when previous_sequence is not null and event_sequence > previous_sequence + 1
                then event_sequence - previous_sequence - 1
            else 0
        end as missing_before
    from events
)

select * from final
