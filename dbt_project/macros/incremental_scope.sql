{#- What an incremental model rebuilds. Every incremental model stores `rebuilt_at` (the
    dbt run's start time) on the rows it writes; a run rebuilds:
      - the event days whose staged events were (re)built since this model last ran (new,
        late or re-delivered records), and
      - the event days holding events of an identity whose resolution to a person changed
        in this run (a device later seen with an account, a directory e-mail arriving),
    so an incremental run gives the same rows as a full refresh. Models whose rows span
    several days (sessions, prompts) rebuild every session or prompt with an event on
    those days. Models that use these macros name their inputs in `-- depends_on:`
    comments, since refs inside `is_incremental()` blocks are not seen at parse time. -#}

{% macro run_started() -%}
    cast('{{ run_started_at }}' as timestamp with time zone)
{%- endmacro %}

{% macro last_rebuilt() -%}
    (select coalesce(max(rebuilt_at), cast('1970-01-01' as timestamp with time zone)) from {{ this }})
{%- endmacro %}

{% macro changed_event_days() -%}
    select distinct staged.event_date
    from {{ ref('stg_otel__events') }} as staged
    where
        staged.rebuilt_at > {{ cowork_analytics.last_rebuilt() }}
        or staged.identity_fingerprint in (
            select changed.identity_fingerprint
            from {{ ref('int_identity__fingerprint_keys') }} as changed
            where changed.changed_at = {{ cowork_analytics.run_started() }}
        )
{%- endmacro %}

{% macro changed_keys(key) -%}
    select distinct staged.{{ key }}
    from {{ ref('stg_otel__events') }} as staged
    where
        staged.{{ key }} is not null
        and staged.event_date in ({{ cowork_analytics.changed_event_days() }})
{%- endmacro %}

{#- Days of an upstream incremental model's rows rebuilt in this run. -#}
{% macro rebuilt_days(relation, date_column) -%}
    select distinct {{ date_column }}
    from {{ relation }}
    where rebuilt_at = {{ cowork_analytics.run_started() }}
{%- endmacro %}
