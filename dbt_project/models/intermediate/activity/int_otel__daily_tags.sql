{{ config(**incremental_by_day('event_date')) }}

{#- The team tags (OTEL_RESOURCE_ATTRIBUTES `team.id`, `department`, `cost_center`) each
    person's clients sent each UTC day: the latest tagged event of the day wins. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

select
    user_key,
    event_date,
    max_by(tag_team_id, {{ epoch_seconds('event_at') }}) as tag_team_id,
    max_by(tag_department, {{ epoch_seconds('event_at') }}) as tag_department,
    max_by(tag_cost_center, {{ epoch_seconds('event_at') }}) as tag_cost_center,
    count(*) as tagged_events,
    {{ run_started() }} as rebuilt_at
from {{ ref('int_otel__events') }}
where
    tag_team_id is not null
{% if is_incremental() %}
        and event_date in ({{ changed_event_days() }})
    {% endif %}
group by user_key, event_date
