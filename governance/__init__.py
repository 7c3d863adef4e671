"""Data governance: what may be kept about people, for how long, and how it is removed.

- `governance.erasure`: `forget_person`, one person erased from the landed data, the
  build database and the serving copies (finding aliases, rewriting landed files, purging).
- `governance.retention`: landed OTel partitions dropped past the configured days.
- `governance.pseudonyms`: the keyed pseudonyms of the serving copy under privacy `strict`.

The privacy modes and the pepper (`ingestion.otel.privacy`) stay in `ingestion/`, the
lowest layer, because the landing applies them first and imports nothing above it; this
package and `warehouse/` import them from there (see docs/adr/0003-governance-package.md).
`governance.erasure` builds and publishes through `warehouse/`; `governance.pseudonyms` and
`governance.retention` import only `ingestion/`, so `warehouse/` may use the pseudonyms.
"""
