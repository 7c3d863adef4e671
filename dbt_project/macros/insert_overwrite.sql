{#- dbt-spark's `get_insert_overwrite_sql`, overridden here (a root project's macro wins over
    the adapter's) to give key-grained models a replace by key on Spark's Parquet tables.

    - Day-partitioned models (`incremental_by_day`): dbt-spark's own statement, a dynamic
      overwrite of the day partitions the run wrote.
    - Key models (`incremental_by_key`: a `unique_key`, no `partition_by`): Parquet cannot
      delete rows by key, and Spark refuses to overwrite a table that the same statement
      reads (the rebuilt rows are computed from it). So the run first writes the table's
      next state to `<table>__dbt_next`: the rebuilt rows, plus every current row whose key
      was not rebuilt, which is what DuckDB's delete+insert leaves. Then the table is
      overwritten from that copy, and the model's post-hook drops the copy. Rows the run
      did not rebuild keep their `rebuilt_at` (or `changed_at`), so the models downstream
      rebuild only what changed, as on DuckDB. -#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) %}
    {%- set unique_key = config.get('unique_key') -%}
    {%- if not unique_key or config.get('partition_by') -%}
        {#- `dbt.` names the adapter's own macro, which this one shadows. -#}
        {{ return(dbt.get_insert_overwrite_sql(source_relation, target_relation, existing_relation)) }}
    {%- endif -%}
    {%- set dest_columns = adapter.get_columns_in_relation(target_relation) -%}
    {%- set dest_cols_csv = dest_columns | map(attribute='quoted') | join(', ') -%}
    {%- set next_relation = cowork_analytics.next_state_relation(target_relation) -%}
    {#- The rebuilt rows are read twice below: computed once, held by Spark's cache. -#}
    {%- do run_query('cache table ' ~ source_relation) -%}
    {%- do run_query('drop table if exists ' ~ next_relation) -%}
    {%- set next_state -%}
        create table {{ next_relation }} using parquet as
        select {{ dest_cols_csv }} from {{ source_relation }}
        union all
        select {{ dest_cols_csv }} from {{ target_relation }} as current_rows
        where not exists (
            select 1 from {{ source_relation }} as rebuilt
            where rebuilt.{{ unique_key }} = current_rows.{{ unique_key }}
        )
    {%- endset -%}
    {%- do run_query(next_state) -%}
    {%- do run_query('uncache table if exists ' ~ source_relation) %}
    insert overwrite table {{ target_relation }}
    select {{ dest_cols_csv }} from {{ next_relation }}
{% endmacro %}

{% macro next_state_relation(relation) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__dbt_next'})) }}
{%- endmacro %}
