{#- A computed number rounded half-up to `scale` decimals, the same on every engine. After a
    division DuckDB holds a double and Spark a decimal; a double carries binary noise
    (327.27 / 60 is 5.45449999… as a double), which DuckDB's cast rounds as it is (5.454)
    and Spark's as its shortest decimal form (5.4545, so 5.455). Rounding to 9 decimals first
    removes the noise alike on both. Exact for values whose true decimal form has at most 9
    decimals and magnitudes far below 10^7. -#}
{% macro decimal_rounded(expression, precision, scale) -%}
    cast(cast({{ expression }} as decimal(38, 9)) as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}
