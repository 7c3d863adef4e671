{#- How an incremental model replaces what it rebuilds, chosen by engine. Every incremental
    model's SQL selects whole units (all rows of each day, or of each key, it rebuilds),
    deduplicated by itself, so either strategy leaves the same rows:
      - DuckDB: `delete+insert` on the unit column;
      - Spark (Parquet tables, no Delta or Iceberg to merge into): `insert_overwrite` of the
        day partitions the run wrote, or, for key models, of the table's next state.
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
    Parquet tables cannot delete by key (that needs Delta or Iceberg's merge): there the run
    writes the rebuilt rows plus the untouched ones to a copy and overwrites the table from
    it (`get_insert_overwrite_sql`), a full write of the table but only the changed keys
    computed, and the same rows as DuckDB's delete+insert. -#}
{% macro incremental_by_key(key) -%}
    {%- if target.type == 'spark' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'insert_overwrite',
            'unique_key': key,
            'file_format': 'parquet',
            'post_hook': [
                "drop table if exists {{ cowork_analytics.next_state_relation(this) }}",
            ],
        }) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': key,
    }) }}
{%- endmacro %}
