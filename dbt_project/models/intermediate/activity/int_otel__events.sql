{#- Staged events with the person they belong to (`user_key`). -#}

select
    events.*,  -- noqa: AM04
    fingerprints.user_key
from {{ ref('stg_otel__events') }} as events
inner join {{ ref('int_identity__fingerprints') }} as fingerprints
    on events.identity_fingerprint = fingerprints.identity_fingerprint
