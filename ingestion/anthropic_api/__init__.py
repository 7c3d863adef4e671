"""What every pull from an Anthropic API shares: the polite client, its errors, and paging.

The Compliance API (`ingestion/compliance_api/`) and the billing and analytics APIs build
on it: one rate limiter, retry policy, deadline, body limit and key redaction for all.
"""
