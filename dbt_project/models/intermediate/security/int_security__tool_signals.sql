{{ config(**incremental_by_day('activity_date')) }}

{#- Signals found in single tool calls (see fct_security_signals): sensitive paths, secrets
    in commands, and calls run after being rejected in the same prompt. Incremental by day:
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

sensitive_paths as (
    select
        'sensitive_path_access' as signal_type,
        case when decision = 'reject' then 'medium' else 'high' end as severity,
        user_key,
        called_at as detected_at,
        activity_date,
        tool_name,
        target,
        tool_name || ' on a sensitive path (' || coalesce(decision_source, 'no decision source')
        || ')' as evidence,
        tool_call_id as source_id
    from access
    where
        target_kind in ('path', 'command')
        and {{ regex_matches(
            'target',
            '(^|[/ ~])\\.ssh(/|$)|(^|[/ ~])\\.env($|[. ])|\\.aws/credentials|(^|[/ ~])\\.netrc'
            ~ '|\\.(pem|p12|pfx|kdbx|keystore)($| )|id_(rsa|dsa|ecdsa|ed25519)'
            ~ '|credentials\\.json|(Google/Chrome|Chromium|Firefox|firefox)/'
            ~ '|Library/Keychains|\\.gnupg/'
        ) }}
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
        'command holds a credential pattern; see tool call ' || tool_call_id as evidence,
        tool_call_id as source_id
    from access
    where
        target_kind = 'command'
        and {{ regex_matches(
            'target',
            'AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_|sk-ant-[A-Za-z0-9_-]{8,}'
            ~ '|xox[abprs]-|-----BEGIN [A-Z ]*PRIVATE KEY'
            ~ '|(api[_-]?key|token|secret|passw(or)?d)[ ]*[=:][ ]*[^ ]{8,}'
            ~ '|[Aa]uthorization: *[Bb]earer +[^ ]+'
        ) }}
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
