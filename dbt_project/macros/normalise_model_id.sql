{#- Clients send dated ids (claude-haiku-4-5-20251001) and a [1m] long-context suffix; the
    price table is keyed by the bare id. Mirrors simulation.pricing.normalise_model_id. -#}
{% macro normalise_model_id(column) -%}
    regexp_replace(regexp_replace(trim({{ column }}), '\[[^\]]*\]$', ''), '-[0-9]{8}$', '')
{%- endmacro %}
