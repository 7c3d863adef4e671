{#- Makes every landed source queryable as `<source>.<table>` where the engine cannot read
    files through the source itself. DuckDB reads them through `external_location` (see the
    sources' YAML) and needs nothing here. Spark gets an external Parquet table per source,
    recreated on every run: its columns are those of the committed empty schema file (the
    landing's current schema), so files landed before a column existed read it as null, a
    source with nothing landed yet is an empty table, and every run lists the files anew.
    Dropping an external table leaves its files alone. Called from `on-run-start`. -#}
{% macro register_landed_sources() -%}
    {{ return(adapter.dispatch('register_landed_sources', 'cowork_analytics')()) }}
{%- endmacro %}

{% macro default__register_landed_sources() -%}
{%- endmacro %}

{% macro spark__register_landed_sources() -%}
    {%- if execute -%}
        {#- Creating an existing schema, even `if not exists`, logs a metastore error. -#}
        {%- set schemas = run_query('show schemas').columns[0].values() | list -%}
        {%- for source in graph.sources.values() if source.meta.get('landing_folder') -%}
            {%- set folder = source.meta['landing_folder'] | replace('{name}', source.name) -%}
            {%- set schema_file = source.meta['schema_file'] | replace('{name}', source.name) -%}
            {%- set described = run_query(
                'describe query select * from parquet.`' ~ schema_file ~ '`'
            ) -%}
            {%- set columns = [] -%}
            {%- for row in described.rows -%}
                {%- do columns.append('`' ~ row[0] ~ '` ' ~ row[1]) -%}
            {%- endfor -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- do run_query('drop table if exists ' ~ source.schema ~ '.' ~ source.identifier) -%}
            {%- do run_query(
                'create table ' ~ source.schema ~ '.' ~ source.identifier
                ~ ' (' ~ columns | join(', ') ~ ') using parquet'
                ~ " options (path '" ~ folder ~ "', recursiveFileLookup 'true')"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
