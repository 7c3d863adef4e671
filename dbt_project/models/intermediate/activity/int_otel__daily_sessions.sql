{{ config(**incremental_by_day('event_date')) }}

{#- Which sessions each person had events in on each UTC day (sessions are counted per day
    and person, so they cannot be summed from finer rows). -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

select distinct
    user_key,
    event_date,
    session_id,
    {{ run_started() }} as rebuilt_at
from {{ ref('int_otel__events') }}
where
    session_id is not null
{% if is_incremental() %}
        and event_date in ({{ changed_event_days() }})
    {% endif %}
