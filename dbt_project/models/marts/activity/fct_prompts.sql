select * from {{ ref('int_otel__prompts') }}
