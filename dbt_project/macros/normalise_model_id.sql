{#- Clients send dated ids (claude-haiku-4-5-20251001) and a [1m] long-context suffix; the
    price table is keyed by the bare id. Mirrors simulation.pricing.normalise_model_id.
    Both patterns are anchored, so replacing the first match (DuckDB) or every match
    (Spark) is the same. -#}
{% macro normalise_model_id(column) -%}
    regexp_replace(
        regexp_replace(trim({{ column }}), {{ cowork_analytics.regex_literal('\\[[^\\]]*\\]$') }}, ''),
        {{ cowork_analytics.regex_literal('-[0-9]{8}$') }},
        ''
    )
{%- endmacro %}
