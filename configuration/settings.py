"""The product's settings: read from the environment once, validated, then passed down.

Every variable the product reads is here, with its default and its check. The CLI builds a
`Settings` at the start of a command and the Dagster code location at load; a setting that
cannot work ends the command (exit status 2) or fails the load with one line naming the
variable, before anything runs. Library code takes the values it needs as arguments and
never reads the environment itself.

Secrets (the pepper, API keys, the webhook URL, which carries its token) are `Secret`s:
their value never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from configuration.errors import ConfigurationError

DATA_DIR = "COWORK_DATA_DIR"
OTEL_DIR = "COWORK_OTEL_DIR"
PRIVACY = "COWORK_PRIVACY"
PII_PEPPER = "COWORK_PII_PEPPER"
CONTENT_RETENTION_DAYS = "COWORK_RETENTION_DAYS"
RAW_RETENTION_DAYS = "COWORK_RAW_RETENTION_DAYS"
COMPLIANCE_API_KEY = "ANTHROPIC_COMPLIANCE_API_KEY"
COMPLIANCE_BASE_URL = "ANTHROPIC_COMPLIANCE_BASE_URL"
ADMIN_API_KEY = "ANTHROPIC_ADMIN_API_KEY"
ANALYTICS_API_KEY = "ANTHROPIC_ANALYTICS_API_KEY"
ANTHROPIC_BASE_URL = "ANTHROPIC_BASE_URL"
ALERT_WEBHOOK_URL = "COWORK_ALERT_WEBHOOK_URL"
DAGSTER_URL = "COWORK_DAGSTER_URL"
ALERT_LOOKBACK_DAYS = "COWORK_ALERT_LOOKBACK_DAYS"
ALERT_SILENT_DAYS = "COWORK_ALERT_SILENT_DAYS"
BILLING_BACKFILL_DAYS = "COWORK_BILLING_BACKFILL_DAYS"
ALERT_BILLED_DIVERGENCE_PERCENT = "COWORK_ALERT_BILLED_DIVERGENCE_PERCENT"
ALERT_BILLED_DIVERGENCE_USD = "COWORK_ALERT_BILLED_DIVERGENCE_USD"
DUCKDB_MEMORY_LIMIT = "COWORK_DUCKDB_MEMORY_LIMIT"
# Dagster's own variable: where its instance (dagster.yaml, run storage) lives.
DAGSTER_HOME = "DAGSTER_HOME"

# Every Anthropic API the product reads (Compliance, billing, analytics) is served here.
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
MINIMUM_PEPPER_LENGTH = 16
# Billed cost stays provisional for about 30 days; the billing and analytics APIs serve no
# range starting more than 365 days back.
DEFAULT_BILLING_BACKFILL_DAYS = 30
MAXIMUM_BILLING_BACKFILL_DAYS = 365
# The DuckDB build takes an eighth of the machine's memory by default (at least 1 GiB): it
# shares the machine with the landing, Dagster and BI readers, and DuckDB's own default
# (80 % of memory) let a full build of 10 M events reach 10.6 GB. Past its limit DuckDB
# spills to disk (`build/warehouse.duckdb.tmp`) rather than fail.
DUCKDB_MEMORY_SHARE = 8
MINIMUM_DUCKDB_MEMORY_MIB = 256
DEFAULT_MINIMUM_DUCKDB_MEMORY_MIB = 1024
MEMORY_UNITS = {
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def machine_memory_bytes() -> int:
    """The memory this process may use: the machine's, or its cgroup's limit when lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    # A container sees the host's memory in sysconf; its own limit is the cgroup's.
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            memory = min(memory, int(limit))
    return memory


def default_duckdb_memory_mib() -> int:
    """An eighth of the machine's memory (see `DUCKDB_MEMORY_SHARE`), at least 1 GiB, in MiB."""
    share = machine_memory_bytes() // DUCKDB_MEMORY_SHARE // 2**20
    return max(DEFAULT_MINIMUM_DUCKDB_MEMORY_MIB, share)


class PrivacyMode(StrEnum):
    """How much content text the product keeps (`COWORK_PRIVACY`; see ingestion.otel.privacy)."""

    STRICT = "strict"
    STANDARD = "standard"
    FULL = "full"

    @classmethod
    def parse(cls, value: str | None) -> PrivacyMode:
        """A mode from its name; empty or None means `standard`.

        Raises:
            ConfigurationError: an unknown mode, naming the accepted ones.
        """
        if not value:
            return cls.STANDARD
        try:
            return cls(value.strip().lower())
        except ValueError:
            accepted = ", ".join(mode.value for mode in cls)
            raise ConfigurationError(f"{PRIVACY}={value!r} is not one of: {accepted}") from None


class PepperMissingError(ConfigurationError):
    """Privacy `strict` was asked for without a usable `COWORK_PII_PEPPER`."""


@dataclass(frozen=True, eq=True)
class Secret:
    """A value that must never be shown: its repr and str name only where it came from.

    Attributes:
        value: the secret.
        variable: the environment variable it was read from, if any.
        published: not a secret at all (the demo's emulator key, written in the source), so
            it may be stored where a real one never is (Dagster's resource config).
    """

    value: str = field(repr=False)
    variable: str | None = None
    published: bool = False

    def __repr__(self) -> str:
        return f"Secret({self.variable or 'given'}, ***)"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """Everything the product is configured with (environment variables in brackets).

    Attributes:
        data_dir: landing, state, build and serving files (`COWORK_DATA_DIR`, `./data`).
        configured_otel_dirs: where the collector's file exporter writes
            (`COWORK_OTEL_DIR`, several separated by the platform's path separator);
            empty means `<data_dir>/simulated/otel` (see `otel_dirs`).
        privacy: what happens to prompt, response and tool-input text (`COWORK_PRIVACY`).
        pii_pepper: the key of every hash and pseudonym under `strict`
            (`COWORK_PII_PEPPER`, at least 16 characters, required under `strict`).
        content_retention_days: days of landed content text kept (`COWORK_RETENTION_DAYS`);
            None keeps everything.
        raw_retention_days: days of every landed OTel dataset kept
            (`COWORK_RAW_RETENTION_DAYS`); None keeps everything.
        compliance_api_key: the Compliance API key (`ANTHROPIC_COMPLIANCE_API_KEY`); None
            skips its pulls.
        compliance_base_url: the Compliance API's address (`ANTHROPIC_COMPLIANCE_BASE_URL`).
        admin_api_key: a Console Admin key (`ANTHROPIC_ADMIN_API_KEY`) for the cost and
            usage reports and Claude Code Analytics; None skips them.
        analytics_api_key: an Enterprise `read:analytics` key (`ANTHROPIC_ANALYTICS_API_KEY`)
            for the Enterprise Analytics API (and the cost reports when no Admin key is
            set); None skips them.
        anthropic_base_url: the billing and analytics APIs' address (`ANTHROPIC_BASE_URL`).
        billing_backfill_days: trailing days every billing pull re-reads
            (`COWORK_BILLING_BACKFILL_DAYS`, default 30: cost stays provisional about as
            long; at most 365).
        alert_webhook_url: where alerts are posted (`COWORK_ALERT_WEBHOOK_URL`); None
            sends none.
        dagster_url: the Dagster UI that alerts link to (`COWORK_DAGSTER_URL`).
        alert_lookback_days: alerts look this many days back (`COWORK_ALERT_LOOKBACK_DAYS`).
        alert_silent_days: a source quiet for longer is silent (`COWORK_ALERT_SILENT_DAYS`).
        alert_billed_divergence_percent, alert_billed_divergence_usd: a day and product
            whose billed cost differs from the reported one by more than both is an alert
            (`COWORK_ALERT_BILLED_DIVERGENCE_PERCENT`, default 5, and
            `COWORK_ALERT_BILLED_DIVERGENCE_USD`, default 10).
        configured_dagster_home: the Dagster instance's folder (`DAGSTER_HOME`); None
            means `<data_dir>/dagster` (see `dagster_home`).
        duckdb_memory_mib: the memory limit of the DuckDB warehouse build (dbt), in
            MiB (`COWORK_DUCKDB_MEMORY_LIMIT`, e.g. `4GiB` or `3000MB`; default an eighth of
            the machine's memory, at least 1 GiB, see `default_duckdb_memory_mib`).
    """

    data_dir: Path = Path("data")
    configured_otel_dirs: tuple[Path, ...] = ()
    privacy: PrivacyMode = PrivacyMode.STANDARD
    pii_pepper: Secret | None = None
    content_retention_days: int | None = None
    raw_retention_days: int | None = None
    compliance_api_key: Secret | None = None
    compliance_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    admin_api_key: Secret | None = None
    analytics_api_key: Secret | None = None
    anthropic_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    billing_backfill_days: int = DEFAULT_BILLING_BACKFILL_DAYS
    alert_webhook_url: Secret | None = None
    dagster_url: str = DEFAULT_DAGSTER_URL
    alert_lookback_days: int = 3
    alert_silent_days: int = 2
    alert_billed_divergence_percent: Decimal = Decimal(5)
    alert_billed_divergence_usd: Decimal = Decimal(10)
    configured_dagster_home: Path | None = None
    duckdb_memory_mib: int = field(default_factory=default_duckdb_memory_mib)

    def __post_init__(self) -> None:
        # Absolute, so that dbt and Spark (other working directories) agree on the paths.
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        object.__setattr__(
            self,
            "configured_otel_dirs",
            tuple(Path(path).expanduser().resolve() for path in self.configured_otel_dirs),
        )
        if self.configured_dagster_home is not None:
            home = Path(self.configured_dagster_home).expanduser().resolve()
            object.__setattr__(self, "configured_dagster_home", home)
        object.__setattr__(self, "privacy", PrivacyMode.parse(self.privacy))
        _check_data_dir(self.data_dir)
        for folder in self.configured_otel_dirs:
            _check_readable(folder)
        if self.privacy is PrivacyMode.STRICT:
            _check_pepper(self.pii_pepper)
        for variable, days in (
            (CONTENT_RETENTION_DAYS, self.content_retention_days),
            (RAW_RETENTION_DAYS, self.raw_retention_days),
        ):
            if days is not None and days < 1:
                # Zero would drop today's landing too; "keep everything" is spelled by unsetting.
                raise ConfigurationError(
                    f"{variable}: {days!r} is not a number of days to keep: give at least 1,"
                    " or unset it to keep everything"
                )
        for variable, days in (
            (ALERT_LOOKBACK_DAYS, self.alert_lookback_days),
            (ALERT_SILENT_DAYS, self.alert_silent_days),
        ):
            if days < 1:
                raise ConfigurationError(f"{variable}: {days!r} is not a number of days (>= 1)")
        if not 1 <= self.billing_backfill_days <= MAXIMUM_BILLING_BACKFILL_DAYS:
            raise ConfigurationError(
                f"{BILLING_BACKFILL_DAYS}: {self.billing_backfill_days!r} is not a number of days"
                f" from 1 to {MAXIMUM_BILLING_BACKFILL_DAYS} (the APIs serve no older range)"
            )
        for variable, amount in (
            (ALERT_BILLED_DIVERGENCE_PERCENT, self.alert_billed_divergence_percent),
            (ALERT_BILLED_DIVERGENCE_USD, self.alert_billed_divergence_usd),
        ):
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise ConfigurationError(f"{variable}: {amount!r} is not a number >= 0")
        if self.duckdb_memory_mib < MINIMUM_DUCKDB_MEMORY_MIB:
            raise ConfigurationError(
                f"{DUCKDB_MEMORY_LIMIT}: {self.duckdb_memory_mib} MiB is below the"
                f" {MINIMUM_DUCKDB_MEMORY_MIB} MiB a build needs"
            )
        _check_url(COMPLIANCE_BASE_URL, self.compliance_base_url)
        _check_url(ANTHROPIC_BASE_URL, self.anthropic_base_url)
        _check_url(DAGSTER_URL, self.dagster_url)
        if self.alert_webhook_url is not None:
            _check_url(ALERT_WEBHOOK_URL, self.alert_webhook_url.value, shown=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of the environment (`os.environ` by default), validated.

        Raises:
            ConfigurationError: one line naming the first variable that cannot work.
        """
        environ = os.environ if environ is None else environ

        def text(name: str) -> str:
            return environ.get(name, "").strip()

        def days(name: str) -> int | None:
            return _whole_days(name, text(name))

        def secret(name: str) -> Secret | None:
            value = environ.get(name, "")
            return Secret(value, name) if value else None

        otel = text(OTEL_DIR)
        return cls(
            data_dir=Path(text(DATA_DIR) or "data"),
            configured_otel_dirs=tuple(Path(part) for part in otel.split(os.pathsep) if part),
            privacy=PrivacyMode.parse(text(PRIVACY)),
            pii_pepper=secret(PII_PEPPER),
            content_retention_days=days(CONTENT_RETENTION_DAYS),
            raw_retention_days=days(RAW_RETENTION_DAYS),
            compliance_api_key=secret(COMPLIANCE_API_KEY),
            compliance_base_url=text(COMPLIANCE_BASE_URL) or DEFAULT_ANTHROPIC_BASE_URL,
            admin_api_key=secret(ADMIN_API_KEY),
            analytics_api_key=secret(ANALYTICS_API_KEY),
            anthropic_base_url=text(ANTHROPIC_BASE_URL) or DEFAULT_ANTHROPIC_BASE_URL,
            alert_webhook_url=secret(ALERT_WEBHOOK_URL),
            dagster_url=text(DAGSTER_URL) or DEFAULT_DAGSTER_URL,
            configured_dagster_home=Path(home) if (home := text(DAGSTER_HOME)) else None,
            # Unset keeps the field's default.
            **(
                {"duckdb_memory_mib": memory}
                if (memory := _memory_mib(DUCKDB_MEMORY_LIMIT, text(DUCKDB_MEMORY_LIMIT)))
                else {}
            ),
            **{
                name: value
                for name, variable in (
                    ("alert_lookback_days", ALERT_LOOKBACK_DAYS),
                    ("alert_silent_days", ALERT_SILENT_DAYS),
                    ("billing_backfill_days", BILLING_BACKFILL_DAYS),
                )
                if (value := days(variable)) is not None
            },
            **{
                name: value
                for name, variable in (
                    ("alert_billed_divergence_percent", ALERT_BILLED_DIVERGENCE_PERCENT),
                    ("alert_billed_divergence_usd", ALERT_BILLED_DIVERGENCE_USD),
                )
                if (value := _amount(variable, text(variable))) is not None
            },
        )

    @property
    def duckdb_memory_limit(self) -> str:
        """The memory limit in DuckDB's notation (`memory_limit` setting)."""
        return f"{self.duckdb_memory_mib}MiB"

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some values replaced (a command's options), validated again."""
        return replace(self, **changes)

    @property
    def otel_dirs(self) -> tuple[Path, ...]:
        """The collector folders: the configured ones, else `<data_dir>/simulated/otel`."""
        return self.configured_otel_dirs or (self.data_dir / "simulated" / "otel",)

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance's folder: `DAGSTER_HOME`, else `<data_dir>/dagster`."""
        return self.configured_dagster_home or self.data_dir / "dagster"

    @property
    def pepper(self) -> bytes | None:
        """The hashing key under `strict`; None in the other modes (nothing is hashed)."""
        if self.privacy is not PrivacyMode.STRICT or self.pii_pepper is None:
            return None
        return self.pii_pepper.value.encode()

    @property
    def erasure_pepper(self) -> bytes | None:
        """The key of the erasure register's hashes: the pepper whenever it is set.

        In any privacy mode; None means the per-install key in `state/` (see
        ingestion.erasure_register).
        """
        return self.pii_pepper.value.encode() if self.pii_pepper else None

    def skipped_sources(self) -> list[str]:
        """One notice per source a run will skip: a key not set, an OTel folder missing."""
        notices = []
        if self.compliance_api_key is None:
            notices.append(
                f"Compliance API: {COMPLIANCE_API_KEY} is not set, so its pulls are skipped;"
                " the marts build from OTel alone."
            )
        if self.admin_api_key is None and self.analytics_api_key is None:
            notices.append(
                f"Billing: neither {ADMIN_API_KEY} nor {ANALYTICS_API_KEY} is set, so the billed"
                " cost and Claude Code Analytics are not pulled."
            )
        for folder in self.otel_dirs:
            if not folder.exists():
                notices.append(
                    f"OTel: the collector folder {folder} does not exist (set {OTEL_DIR}), so"
                    " nothing is landed from it."
                )
        return notices

    def child_environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a child process that reads its settings itself (the Dagster UI).

        `base` (default `os.environ`, where the secrets come from) with the paths and mode of
        these settings, which a command's options may have changed. Passed to the child
        (`subprocess`'s `env`); this process's own environment is never written.
        """
        environment = dict(os.environ if base is None else base)
        environment[DATA_DIR] = str(self.data_dir)
        if self.configured_otel_dirs:
            environment[OTEL_DIR] = os.pathsep.join(str(p) for p in self.configured_otel_dirs)
        environment[PRIVACY] = self.privacy.value
        environment[DAGSTER_HOME] = str(self.dagster_home)
        return environment


def _whole_days(variable: str, value: str) -> int | None:
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise ConfigurationError(
            f"{variable}: {value!r} is not a whole number of days, at least 1 (unset it for"
            " the default)"
        )
    return days


def _memory_mib(variable: str, value: str) -> int | None:
    """`4GiB`, `3000MB`, `512 MiB` (DuckDB's units: KB is 1000 bytes, KiB 1024) in MiB."""
    if not value:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b)", value, flags=re.IGNORECASE)
    if match is None:
        raise ConfigurationError(
            f"{variable}: {value!r} is not an amount of memory such as 4GiB or 3000MB"
            " (unset it for the default)"
        )
    size = Decimal(match.group(1)) * MEMORY_UNITS[match.group(2).lower()]
    return int(size // 2**20)


def _amount(variable: str, value: str) -> Decimal | None:
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"{variable}: {value!r} is not a number >= 0 (unset it for the default)"
        )
    return amount


def _check_pepper(pepper: Secret | None) -> None:
    length = len(pepper.value) if pepper else 0
    if length >= MINIMUM_PEPPER_LENGTH:
        return
    problem = f"is shorter than {MINIMUM_PEPPER_LENGTH} characters" if length else "is not set"
    raise PepperMissingError(
        f"{PRIVACY}=strict needs a secret pepper, but {PII_PEPPER} {problem}. "
        "Generate one with `python3 -c 'import secrets; print(secrets.token_hex(32))'`, "
        "keep it with your other secrets, and never change it: pseudonyms and hashed "
        "paths follow it."
    )


def _check_url(variable: str, url: str, *, shown: bool = True) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return
    # A webhook URL carries its token: name the variable, never the value.
    value = f" {url!r}" if shown else ""
    raise ConfigurationError(f"{variable}:{value} is not an http(s) URL")


def _check_data_dir(root: Path) -> None:
    """Fail unless `root` is a writable directory, or can be created as one."""
    existing = root
    while not existing.exists():
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = "is a file, not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = "is not writable"
    if problem is None:
        return
    if existing != root:
        problem = f"cannot be created: {existing} {problem}"
    # The CLI's --data-dir option sets the same setting: name both.
    raise ConfigurationError(f"{DATA_DIR} (--data-dir): the data directory {root} {problem}")


def _check_readable(folder: Path) -> None:
    """A collector folder may not exist yet (a notice), but one that exists must be readable."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ConfigurationError(f"{OTEL_DIR}: {folder} is a file, not a directory")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ConfigurationError(f"{OTEL_DIR}: the collector folder {folder} is not readable")
