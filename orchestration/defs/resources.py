"""Resources shared by the assets: the product's settings, check thresholds, and dbt."""

import shutil
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from configuration.errors import ConfigurationError
from configuration.settings import (
    ADMIN_API_KEY,
    ALERT_BILLED_DIVERGENCE_PERCENT,
    ALERT_BILLED_DIVERGENCE_USD,
    ALERT_WEBHOOK_URL,
    ANALYTICS_API_KEY,
    COMPLIANCE_API_KEY,
    DEFAULT_ANTHROPIC_BASE_URL,
    DEFAULT_BILLING_BACKFILL_DAYS,
    DEFAULT_DAGSTER_URL,
    PII_PEPPER,
    PrivacyMode,
    Secret,
    Settings,
)
from ingestion.paths import DataLayout
from orchestration.defs.dbt.project import dbt_project

# The Dagster pool of every step that writes or publishes the DuckDB build database.
WAREHOUSE_POOL = "warehouse"


class SettingsResource(dg.ConfigurableResource):
    """The product's settings (`configuration.settings.Settings`) as Dagster resource config.

    Built from the settings the code location read when it loaded. A secret read from the
    environment is a `dg.EnvVar`: Dagster keeps the variable's name, never its value, and
    reads it in the process that runs the step.
    """

    data_dir: str
    otel_dirs: list[str] | None = None  # None: <data_dir>/simulated/otel
    privacy: str = PrivacyMode.STANDARD.value
    pii_pepper: str | None = None
    content_retention_days: int | None = None
    raw_retention_days: int | None = None
    compliance_api_key: str | None = None
    compliance_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    admin_api_key: str | None = None
    analytics_api_key: str | None = None
    anthropic_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    billing_backfill_days: int = DEFAULT_BILLING_BACKFILL_DAYS
    alert_webhook_url: str | None = None
    dagster_url: str = DEFAULT_DAGSTER_URL
    alert_lookback_days: int = 3
    alert_silent_days: int = 2
    # Decimal text: exact, and editable in the launchpad.
    alert_billed_divergence_percent: str = "5"
    alert_billed_divergence_usd: str = "10"
    duckdb_memory_mib: int | None = None  # None: an eighth of the machine's memory

    @classmethod
    def from_settings(cls, settings: Settings) -> "SettingsResource":
        """The resource of `settings`, with its secrets as references to their variables."""
        return cls(
            data_dir=str(settings.data_dir),
            otel_dirs=[str(path) for path in settings.configured_otel_dirs] or None,
            privacy=settings.privacy.value,
            pii_pepper=_reference(settings.pii_pepper),
            content_retention_days=settings.content_retention_days,
            raw_retention_days=settings.raw_retention_days,
            compliance_api_key=_reference(settings.compliance_api_key),
            compliance_base_url=settings.compliance_base_url,
            admin_api_key=_reference(settings.admin_api_key),
            analytics_api_key=_reference(settings.analytics_api_key),
            anthropic_base_url=settings.anthropic_base_url,
            billing_backfill_days=settings.billing_backfill_days,
            alert_webhook_url=_reference(settings.alert_webhook_url),
            dagster_url=settings.dagster_url,
            alert_lookback_days=settings.alert_lookback_days,
            alert_silent_days=settings.alert_silent_days,
            alert_billed_divergence_percent=str(settings.alert_billed_divergence_percent),
            alert_billed_divergence_usd=str(settings.alert_billed_divergence_usd),
            duckdb_memory_mib=settings.duckdb_memory_mib,
        )

    def settings(self) -> Settings:
        """The settings, validated again (a bad value in the launchpad fails in one line)."""
        return Settings(
            data_dir=Path(self.data_dir),
            configured_otel_dirs=tuple(Path(path) for path in self.otel_dirs or ()),
            privacy=PrivacyMode.parse(self.privacy),
            pii_pepper=_secret(self.pii_pepper, PII_PEPPER),
            content_retention_days=self.content_retention_days,
            raw_retention_days=self.raw_retention_days,
            compliance_api_key=_secret(self.compliance_api_key, COMPLIANCE_API_KEY),
            compliance_base_url=self.compliance_base_url,
            admin_api_key=_secret(self.admin_api_key, ADMIN_API_KEY),
            analytics_api_key=_secret(self.analytics_api_key, ANALYTICS_API_KEY),
            anthropic_base_url=self.anthropic_base_url,
            billing_backfill_days=self.billing_backfill_days,
            alert_webhook_url=_secret(self.alert_webhook_url, ALERT_WEBHOOK_URL),
            dagster_url=self.dagster_url,
            alert_lookback_days=self.alert_lookback_days,
            alert_silent_days=self.alert_silent_days,
            alert_billed_divergence_percent=_amount(
                self.alert_billed_divergence_percent, ALERT_BILLED_DIVERGENCE_PERCENT
            ),
            alert_billed_divergence_usd=_amount(
                self.alert_billed_divergence_usd, ALERT_BILLED_DIVERGENCE_USD
            ),
            **({"duckdb_memory_mib": self.duckdb_memory_mib} if self.duckdb_memory_mib else {}),
        )

    def layout(self) -> DataLayout:
        """Paths under the data directory."""
        return DataLayout(Path(self.data_dir))


def _amount(text: str, variable: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ConfigurationError(f"{variable}: {text!r} is not a number") from None


def _reference(secret: Secret | None) -> str | dg.EnvVar | None:
    """What Dagster's resource config holds for a secret: its variable's name, never it."""
    if secret is None:
        return None
    if secret.variable:
        return dg.EnvVar(secret.variable)
    if secret.published:  # the demo's emulator key: printed in the source, not a secret
        return secret.value
    raise ConfigurationError(
        "a secret given in code cannot be handed to Dagster, which stores resource config:"
        " set it in the environment instead"
    )


def _secret(value: str | None, variable: str) -> Secret | None:
    return Secret(value, variable) if value else None


class FreshnessResource(dg.ConfigurableResource):
    """Thresholds of the freshness checks, in hours (change them in the Dagster config)."""

    warn_after_hours: float = 2.0
    fail_after_hours: float = 24.0


class QuarantineThresholdsResource(dg.ConfigurableResource):
    """Share of quarantined lines above which the landing's check warns, then fails."""

    warn_rate: float = 0.001
    error_rate: float = 0.05


def dbt_executable() -> str:
    """The dbt installed beside this Python, so it works whether or not the venv is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources of the definitions, carrying `settings`."""
    return {
        "settings": SettingsResource.from_settings(settings),
        "otel_quarantine": QuarantineThresholdsResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "freshness": FreshnessResource(),
    }
