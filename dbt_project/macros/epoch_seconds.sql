{#- Seconds (with fractions) between two timestamps. dbt.datediff truncates to whole units
    and differs between engines for hours and minutes, so gaps are computed from epochs. -#}
{% macro seconds_between(start_column, end_column) -%}
    {{ return(adapter.dispatch('seconds_between', 'cowork_analytics')(start_column, end_column)) }}
{%- endmacro %}

{% macro default__seconds_between(start_column, end_column) -%}
    (extract(epoch from {{ end_column }}) - extract(epoch from {{ start_column }}))
{%- endmacro %}

{% macro spark__seconds_between(start_column, end_column) -%}
    (unix_micros({{ end_column }}) - unix_micros({{ start_column }})) / 1000000.0
{%- endmacro %}

{#- Seconds since the Unix epoch, with fractions (a sortable number for a timestamp). -#}
{% macro epoch_seconds(column) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'cowork_analytics')(column)) }}
{%- endmacro %}

{% macro default__epoch_seconds(column) -%}
    extract(epoch from {{ column }})
{%- endmacro %}

{% macro spark__epoch_seconds(column) -%}
    (unix_micros({{ column }}) / 1000000.0)
{%- endmacro %}
