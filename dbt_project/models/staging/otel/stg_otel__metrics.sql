{{ config(**incremental_by_day('point_date')) }}

{#- One row per metric data point (Claude Code's counters), deduplicated, with each point's
    increment: delta points are increments already; a cumulative series restarts with a new
    start time when its process restarts, so increments are taken within (series, start).
    Cost and tokens in the marts come from api_request events; these are a cross-check.
    Incremental by whole point days: the days that received points (and the day after
    each, where a cumulative series crossing midnight continues), with each series' last
    point already staged as the starting value. -#}

with

{% if is_incremental() %}
    {% set days_with_new_points %}
        with landed_days as (
            {{ days_landed_since_last_build(source('otel', 'metrics'), 'point_date') }}
        )
        select point_date from landed_days
        union
        select {{ dbt.dateadd('day', 1, 'point_date') }} from landed_days
    {% endset %}
    {% set rebuild_days = date_literals(days_with_new_points) %}
{% endif %}

source as (
    select * from {{ source('otel', 'metrics') }}
    {% if is_incremental() %}
        where point_date in ({{ rebuild_days }})
    {% endif %}
),

deduplicated as (
    {{ deduplicate_rare(
        'source', 'metric_point_id', 'landed_at nulls last, source_file_fingerprint nulls last, source_byte_offset nulls last'
    ) }}
),

keyed as (
    select
        *,
        {{ fingerprint([
            'metric_name', 'session_id', 'user_account_id', 'user_id', 'model', 'type',
            'query_source', 'speed', 'effort', 'tool_name', 'decision', 'source', 'language',
            'start_type', 'attributes_json',
        ]) }} as series_key
    from deduplicated
),

{% if is_incremental() %}
    -- The last point already staged before the rebuilt days, per cumulative series.
    anchors as (
        select
            staged.series_key,
            staged.start_at,
            max_by(staged.value, staged.point_at) as value,
            max(staged.point_at) as point_at
        from {{ this }} as staged
        where
            staged.aggregation_temporality = 'cumulative'
            and staged.point_date not in ({{ rebuild_days }})
            and staged.point_at < (select min(keyed.point_at) from keyed)
            and staged.series_key in (select keyed.series_key from keyed)
        group by staged.series_key, staged.start_at
    ),
{% endif %}

with_previous as (
    select
        keyed.*,
        coalesce(
            lag(keyed.value) over (
                partition by keyed.series_key, keyed.start_at order by keyed.point_at nulls last
            ),
            {% if is_incremental() %} anchors.value {% else %} 0 {% endif %}
        ) as previous_value
    from keyed
    {% if is_incremental() %}
        left join anchors
            on keyed.series_key = anchors.series_key and keyed.start_at = anchors.start_at
    {% endif %}
),

renamed as (
    select
        metric_point_id,
        series_key,
        metric_name,
        metric_type,
        unit,
        aggregation_temporality,
        session_id,
        nullif(trim(user_account_id), '') as user_account_id,
        nullif(lower(trim(user_email)), '') as user_email,
        nullif(trim(user_id), '') as device_id,
        service_name,
        {{ product_of_service('service_name') }} as product,
        model as model_id,
        {{ normalise_model_id('model') }} as model,
        type as token_type,
        value,
        case
            when aggregation_temporality = 'cumulative' then value - coalesce(previous_value, 0)
            else value
        end as increment,
        start_at,
        point_at,
        point_date,
        landed_at,
        {{ run_started() }} as rebuilt_at
    from with_previous
)

select * from renamed
