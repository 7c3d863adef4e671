"""Helpers the tests share: builders, servers, readers. No tests and no fixtures here
(fixtures live in the conftest.py files, which import these)."""
