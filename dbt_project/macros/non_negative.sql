{#- A landed amount (cost, tokens, durations) as it may enter the marts: null when it is
    negative, infinite or NaN. The landing rejects such values (keeping the raw value in
    rejected_values_json); this guard keeps files landed before it did from breaking the
    decimal casts or turning a day's cost negative. NaN compares above every number on
    DuckDB and Spark, so one range test catches all three. -#}
{% macro non_negative(column) -%}
    case when {{ column }} >= 0 and {{ column }} < 1e20 then {{ column }} end
{%- endmacro %}
