{{ config(**incremental_by_day('activity_date')) }}

{#- Signals found in single tool calls (see fct_security_signals): sensitive paths, secrets
    in tool inputs, and calls run after being rejected in the same prompt. Incremental by day:
    the days whose tool-access rows were rebuilt in this run. -#}

-- depends_on: {{ ref('stg_otel__events') }}

with

access as (
    select * from {{ ref('fct_tool_file_access') }}
    {% if is_incremental() %}
        where activity_date in (
            {{ date_literals(rebuilt_days_query(ref('fct_tool_file_access'), 'activity_date')) }}
        )
    {% endif %}
),

-- Earlier calls of the same prompts (a rejection may precede midnight).
same_prompts as (
    select * from {{ ref('fct_tool_file_access') }}
    where prompt_id in (select access.prompt_id from access)
),

-- Both read the classification made at landing, before privacy `strict` hashed paths and
-- commands (ingestion/otel/security.py), so they fire alike in every mode; the evidence
-- names the kind found, never the path or the secret.
sensitive_paths as (
    select
        'sensitive_path_access' as signal_type,
        case when decision = 'reject' then 'medium' else 'high' end as severity,
        user_key,
        called_at as detected_at,
        activity_date,
        tool_name,
        target,
        tool_name || ' on a sensitive path: ' || sensitive_kind || ' ('
        || coalesce(decision_source, 'no decision source') || ')' as evidence,
        tool_call_id as source_id
    from access
    where target_class = 'sensitive'
),

secrets_in_commands as (
    select
        'secret_in_command' as signal_type,
        'high' as severity,
        user_key,
        called_at as detected_at,
        activity_date,
        tool_name,
        cast(null as string) as target,
        'tool input holds a credential (' || secret_kinds || '); see tool call '
        || tool_call_id as evidence,
        tool_call_id as source_id
    from access
    where secret_kinds is not null
),

rejected_then_retried as (
    select
        'rejected_then_retried' as signal_type,
        'medium' as severity,
        retried.user_key,
        retried.called_at as detected_at,
        retried.activity_date,
        retried.tool_name,
        retried.target,
        retried.tool_name || ' ran after being rejected ('
        || coalesce(rejected.decision_source, 'unknown source') || ') in the same prompt'
            as evidence,
        retried.tool_call_id as source_id
    from access as retried
    inner join same_prompts as rejected
        on
            retried.prompt_id = rejected.prompt_id
            and retried.tool_name = rejected.tool_name
            and retried.called_at > rejected.called_at
            and (
                retried.target = rejected.target
                or rejected.target is null
            )
    where rejected.decision = 'reject' and retried.decision = 'accept'
    qualify
        row_number() over (partition by retried.tool_call_id order by rejected.called_at nulls last)
        = 1
),

unioned as (
    select * from sensitive_paths
    union all
    select * from secrets_in_commands
    union all
    select * from rejected_then_retried
),

final as (
    select
        *,
        {{ run_started() }} as rebuilt_at
    from unioned
)

select * from final
