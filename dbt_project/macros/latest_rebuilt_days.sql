{#- The days of an incremental model's rows written by its latest run, as SQL date literals
    (see `date_literals`): the scope of a test that judges what a run (re)built. A test runs
    after its model, so in `dbt build` the latest run is this one. A null date, matching
    nothing, while the model does not exist yet (dbt compiling or sqlfluff linting against
    an empty database). -#}
{% macro latest_rebuilt_days(relation, date_column) -%}
    {%- if execute and load_relation(relation) is none -%}
        {{ return('cast(null as date)') }}
    {%- endif -%}
    {{ return(cowork_analytics.date_literals(
        'select distinct ' ~ date_column ~ ' from ' ~ relation
        ~ ' where rebuilt_at = (select max(rebuilt_at) from ' ~ relation ~ ')'
    )) }}
{%- endmacro %}
