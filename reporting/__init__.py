"""Reports on the published marts: plain Python (no Dagster), read-only on the serving file."""
