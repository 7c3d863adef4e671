"""Alerts to a Slack-compatible webhook: detected from the serving marts and from Dagster runs.

Plain Python (no Dagster import): `detect` reads the published marts, `slack` formats,
`deliver` posts with retries, `store` remembers what was sent, `run` ties them together.
"""
