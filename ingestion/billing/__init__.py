"""Anthropic's billed cost and Claude Code Analytics, landed as Parquet by day."""
