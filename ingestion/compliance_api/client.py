"""The Compliance API's client: the shared Anthropic client at the Compliance API's budget.

All keys of a parent organisation share 600 requests/minute; the key and base URL are
settings (`ANTHROPIC_COMPLIANCE_API_KEY`, `ANTHROPIC_COMPLIANCE_BASE_URL`).
"""

from __future__ import annotations

from typing import Any

from configuration.errors import ConfigurationError
from configuration.settings import COMPLIANCE_API_KEY, DEFAULT_ANTHROPIC_BASE_URL, Settings
from ingestion.anthropic_api.client import AnthropicClient

API_KEY_VARIABLE = COMPLIANCE_API_KEY
REQUESTS_PER_MINUTE = 600


class ComplianceClient(AnthropicClient):
    """GETs against `/v1/compliance/*` (see `AnthropicClient` for the options)."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_ANTHROPIC_BASE_URL, **options: Any):
        options.setdefault("requests_per_minute", REQUESTS_PER_MINUTE)
        super().__init__(api_key, base_url, key_variable=API_KEY_VARIABLE, **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ComplianceClient:
        """A client with the settings' key and base URL.

        Raises:
            ConfigurationError: no key is configured (the message names its variable).
        """
        if settings.compliance_api_key is None:
            raise ConfigurationError(
                f"{API_KEY_VARIABLE} is not set: the Compliance API needs a key"
            )
        return cls(settings.compliance_api_key.value, settings.compliance_base_url, **options)
