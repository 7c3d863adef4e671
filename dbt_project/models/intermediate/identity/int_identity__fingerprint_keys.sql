{{ config(**incremental_by_key('identity_fingerprint')) }}

{#- The person each identity fingerprint resolved to, and when that last changed. A run
    that resolves a fingerprint differently (or sees it first) stamps `changed_at` with the
    run's start, which tells incremental models which event days to rebuild. -#}

select
    current_keys.identity_fingerprint,
    current_keys.user_key,
    {{ run_started() }} as changed_at
from {{ ref('int_identity__fingerprints') }} as current_keys
{% if is_incremental() %}
    left join {{ this }} as known
        on
            current_keys.identity_fingerprint = known.identity_fingerprint
            and current_keys.user_key = known.user_key
    where known.identity_fingerprint is null
{% endif %}
