{{ config(**incremental_by_day('activity_date')) }}

{#- Latency and reliability per day, for three kinds of subject:
      - `model`: API request duration and time to first token percentiles, API errors by
        status code, error rate (failed / (succeeded + failed) requests) and attempts;
      - `tool`: tool execution time percentiles and failure rate;
      - `prompt`: prompt wall-clock percentiles per product (subject = product).
    Percentiles are exact (interpolated). Incremental by whole days: changed days, and
    the start days of prompts recomputed in this run. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

{#- Tools and prompts have no time to first token and no HTTP errors. -#}
{% set no_model_columns %}
    cast(null as double) as p50_ttft_ms,
    cast(null as double) as p90_ttft_ms,
    cast(null as double) as p95_ttft_ms,
    cast(null as double) as p99_ttft_ms,
    0 as errors_429,
    0 as errors_529,
    0 as errors_5xx,
    0 as errors_4xx,
    0 as errors_other,
{%- endset %}

with

days as (
    select distinct event_date as activity_date
    from {{ ref('stg_otel__events') }}
    {% if is_incremental() %}
        where event_date in (
            {{ changed_event_days_and(ref('fct_prompts'), 'activity_date') }}
        )
    {% endif %}
),

requests as (
    select
        model,
        event_date,
        duration_ms,
        ttft_ms
    from {{ ref('int_otel__events') }}
    where event_name = 'api_request' and event_date in (select days.activity_date from days)
),

errors as (
    select
        model,
        event_date,
        attempt,
        -- status_code may arrive as a number, a digit string, "undefined" or nothing.
        case
            when status_code = 429 then '429'
            when status_code = 529 then '529'
            when status_code between 500 and 599 then '5xx'
            when status_code between 400 and 499 then '4xx'
            else 'other'
        end as status_class
    from {{ ref('int_otel__events') }}
    where event_name = 'api_error' and event_date in (select days.activity_date from days)
),

model_requests as (
    select
        coalesce(model, '(unknown)') as subject,
        event_date as activity_date,
        count(*) as requests,
        {{ percentiles('duration_ms', 'duration_ms') }},
        {{ percentiles('ttft_ms', 'ttft_ms') }}
    from requests
    group by 1, 2
),

model_errors as (
    select
        coalesce(model, '(unknown)') as subject,
        event_date as activity_date,
        count(*) as failures,
        count(*) filter (where status_class = '429') as errors_429,
        count(*) filter (where status_class = '529') as errors_529,
        count(*) filter (where status_class = '5xx') as errors_5xx,
        count(*) filter (where status_class = '4xx') as errors_4xx,
        count(*) filter (where status_class = 'other') as errors_other,
        coalesce(sum(attempt), 0) as attempts
    from errors
    group by 1, 2
),

models as (
    select
        'model' as subject_kind,
        coalesce(model_requests.subject, model_errors.subject) as subject,
        coalesce(model_requests.activity_date, model_errors.activity_date) as activity_date,
        coalesce(model_requests.requests, 0) + coalesce(model_errors.failures, 0) as calls,
        coalesce(model_errors.failures, 0) as failures,
        model_requests.p50_duration_ms,
        model_requests.p90_duration_ms,
        model_requests.p95_duration_ms,
        model_requests.p99_duration_ms,
        model_requests.p50_ttft_ms,
        model_requests.p90_ttft_ms,
        model_requests.p95_ttft_ms,
        model_requests.p99_ttft_ms,
        coalesce(model_errors.errors_429, 0) as errors_429,
        coalesce(model_errors.errors_529, 0) as errors_529,
        coalesce(model_errors.errors_5xx, 0) as errors_5xx,
        coalesce(model_errors.errors_4xx, 0) as errors_4xx,
        coalesce(model_errors.errors_other, 0) as errors_other,
        coalesce(model_errors.attempts, 0) as failed_attempts
    from model_requests
    full outer join model_errors
        on
            model_requests.subject = model_errors.subject
            and model_requests.activity_date = model_errors.activity_date
),

tools as (
    select
        'tool' as subject_kind,
        tool_name as subject,
        activity_date,
        count(*) as calls,
        count(*) filter (where not is_success) as failures,
        {{ percentiles('duration_ms', 'duration_ms') }},
        {{ no_model_columns }}
        0 as failed_attempts
    from {{ ref('fct_tool_calls') }}
    where decision = 'accept' and activity_date in (select days.activity_date from days)
    group by 1, 2, 3
),

prompts as (
    select
        'prompt' as subject_kind,
        product as subject,
        activity_date,
        count(*) as calls,
        count(*) filter (where is_failed) as failures,
        {{ percentiles('wall_clock_ms', 'duration_ms') }},
        {{ no_model_columns }}
        coalesce(sum(retry_attempts), 0) as failed_attempts
    from {{ ref('fct_prompts') }}
    where activity_date in (select days.activity_date from days)
    group by 1, 2, 3
),

unioned as (
    select * from models
    union all
    select * from tools
    union all
    select * from prompts
),

final as (
    select
        subject_kind || '|' || subject || '|' || cast(activity_date as string)
            as performance_daily_id,
        subject_kind,
        subject,
        activity_date,
        cast(calls as bigint) as calls,
        cast(failures as bigint) as failures,
        cast(failures as double) / nullif(calls, 0) as failure_rate,
        cast(p50_duration_ms as double) as p50_duration_ms,
        cast(p90_duration_ms as double) as p90_duration_ms,
        cast(p95_duration_ms as double) as p95_duration_ms,
        cast(p99_duration_ms as double) as p99_duration_ms,
        cast(p50_ttft_ms as double) as p50_ttft_ms,
        cast(p90_ttft_ms as double) as p90_ttft_ms,
        cast(p95_ttft_ms as double) as p95_ttft_ms,
        cast(p99_ttft_ms as double) as p99_ttft_ms,
        cast(errors_429 as bigint) as errors_429,
        cast(errors_529 as bigint) as errors_529,
        cast(errors_5xx as bigint) as errors_5xx,
        cast(errors_4xx as bigint) as errors_4xx,
        cast(errors_other as bigint) as errors_other,
        cast(failed_attempts as bigint) as failed_attempts,
        {{ run_started() }} as rebuilt_at
    from unioned
)

select * from final
