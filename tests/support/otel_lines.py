"""OTLP/JSON export lines shaped like the collector's `file` exporter writes them."""

from __future__ import annotations

import json


def otlp_line(event_name: str, time_ns: int | str, **attributes: dict) -> str:
    """One export line holding one Claude Code log record with the given attributes."""
    values = [{"key": "event.name", "value": {"stringValue": event_name}}]
    values += [{"key": key, "value": value} for key, value in attributes.items()]
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "cowork"}}]
                    },
                    "scopeLogs": [
                        {
                            "scope": {"name": "com.anthropic.claude_code.events"},
                            "logRecords": [
                                {
                                    "timeUnixNano": str(time_ns),
                                    "body": {"stringValue": f"claude_code.{event_name}"},
                                    "attributes": values,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
