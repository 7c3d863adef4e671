{% test unique_combination(model, columns) %}
{#- No two rows share these columns (a composite grain), without the dbt_utils package. -#}
select
    {{ columns | join(', ') }},
    count(*) as rows_with_these_values
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
