{{ config(**incremental_by_day('event_date')) }}

{#- Tokens and reported cost per person, product, model and UTC day, with the cache writes split the
    way they are priced: clients that do not split cache writes by lifetime are priced at
    the 5-minute rate. -#}

-- depends_on: {{ ref('stg_otel__events') }}
-- depends_on: {{ ref('int_identity__fingerprint_keys') }}

select
    user_key,
    event_date,
    product,
    coalesce(model, '(unknown)') as model,
    count(*) as api_requests,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(cache_creation_tokens), 0) as cache_creation_tokens,
    sum(cache_creation_5m_tokens) as cache_creation_5m_tokens,
    sum(cache_creation_1h_tokens) as cache_creation_1h_tokens,
    coalesce(sum(
        case
            when cache_creation_5m_tokens is null and cache_creation_1h_tokens is null
                then cache_creation_tokens
            else coalesce(cache_creation_5m_tokens, 0)
        end
    ), 0) as priced_5m_write_tokens,
    coalesce(sum(coalesce(cache_creation_1h_tokens, 0)), 0) as priced_1h_write_tokens,
    coalesce(sum(cost_usd), 0) as cost_usd,
    sum(cost_usd_micros) as cost_usd_micros,
    {{ run_started() }} as rebuilt_at
from {{ ref('int_otel__events') }}
where
    event_name = 'api_request'
{% if is_incremental() %}
        and event_date in ({{ changed_event_days() }})
    {% endif %}
group by user_key, event_date, product, coalesce(model, '(unknown)')
