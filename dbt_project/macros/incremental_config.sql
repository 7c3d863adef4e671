{#- How an incremental model replaces what it rebuilds, chosen by engine. Every incremental
    model's SQL selects whole units (all rows of each day, or of each key, it rebuilds),
    deduplicated by itself, so either strategy leaves the same rows:
      - DuckDB: `delete+insert` on the unit column;
      - Spark (Parquet tables, no Delta or Iceberg to merge into): `insert_overwrite` of the
        day partitions the run wrote.
    Use as `{{ config(**incremental_by_day('event_date')) }}`. -#}
{% macro incremental_by_day(date_column) -%}
    {%- if target.type == 'spark' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'insert_overwrite',
            'partition_by': [date_column],
            'file_format': 'parquet',
        }) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': date_column,
    }) }}
{%- endmacro %}

{#- Models whose rows span days (sessions, prompts, identities) replace rows by key. Spark's
    Parquet tables cannot delete by key (that needs Delta or Iceberg's merge), so there the
    model is rebuilt whole on each run: the same rows, at the cost of a full pass. -#}
{% macro incremental_by_key(key) -%}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'table', 'file_format': 'parquet'}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': key,
    }) }}
{%- endmacro %}
