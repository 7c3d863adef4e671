{{ config(**incremental_by_key('session_id')) }}

{#- For each event, the time since the previous event of its session, and whether it opens
    a new client process. Active time is the sum of gaps no longer than
    `session_idle_gap_seconds` (the clients' own active-time fields are not trusted); a gap
    belongs to the day of the event that ends it. A resumed session runs in a new process
    whose `event.sequence` restarts, so a sequence that goes backwards opens a process.
    Incremental: whole sessions with an event on a changed day are recomputed. -#}

-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

with

events as (
    select
        event_id,
        session_id,
        identity_fingerprint,
        product,
        event_at,
        event_date,
        event_sequence,
        lag(event_at) over session_order as previous_event_at,
        lag(event_sequence) over session_order as previous_sequence
    from {{ ref('stg_otel__events') }}
    where
        session_id is not null
    {% if is_incremental() %}
            and session_id in ({{ changed_keys('session_id') }})
        {% endif %}
    window session_order as (
        partition by session_id
        order by event_at asc nulls last, event_sequence asc nulls last, event_id asc nulls last
    )
),

final as (
    select
        event_id,
        session_id,
        identity_fingerprint,
        product,
        event_at,
        event_date,
        event_sequence,
        case
            when previous_event_at is null then 0
            when
                {{ seconds_between('previous_event_at', 'event_at') }}
                <= {{ var('session_idle_gap_seconds') }}
                then cast({{ seconds_between('previous_event_at', 'event_at') }} as decimal(18, 3))
            else 0
        end as active_seconds,
        coalesce(previous_event_at is null or event_sequence < previous_sequence, false)
            as opens_process,
        -- Sequence numbers skipped inside one process: records lost on the way.
        case
            when previous_sequence is not null and event_sequence > previous_sequence + 1
                then event_sequence - previous_sequence - 1
            else 0
        end as missing_before,
        {{ run_started() }} as rebuilt_at
    from events
)

select * from final
