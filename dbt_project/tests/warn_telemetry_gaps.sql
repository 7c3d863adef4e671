{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_telemetry_health'}}}) }}

-- Input quality: days with unknown event names, events without an e-mail, or records
-- missing inside a client process. Counted in fct_telemetry_health; the marts still build.
select
    source,
    activity_date,
    unknown_event_names,
    events_without_email,
    sequence_gap_events
from {{ ref('fct_telemetry_health') }}
where unknown_event_names > 0 or events_without_email > 0 or sequence_gap_events > 0
