{#- The counts, tokens and reported cost of a group of events, as select-list columns:
    prompts, api_requests, api_errors, tool_calls, tool_rejections, the four token kinds
    and cost_usd. Tokens and cost come from api_request events only: the cost metric (and
    any other event) would double count them. -#}
{% macro activity_totals() -%}
    count(case when event_name = 'user_prompt' then 1 end) as prompts,
    count(case when event_name = 'api_request' then 1 end) as api_requests,
    count(case when event_name = 'api_error' then 1 end) as api_errors,
    count(case when event_name = 'tool_result' then 1 end) as tool_calls,
    count(
        case when event_name = 'tool_decision' and decision = 'reject' then 1 end
    ) as tool_rejections,
    {%- for column in ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'cost_usd'] %}
    coalesce(sum(case when event_name = 'api_request' then {{ column }} end), 0)
        as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
