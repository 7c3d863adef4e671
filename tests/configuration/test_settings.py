"""The settings: every variable read once, checked, and named in its one-line error."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from configuration import settings as settings_module
from configuration.errors import ConfigurationError
from configuration.settings import (
    PepperMissingError,
    PrivacyMode,
    Secret,
    Settings,
    default_duckdb_memory_mib,
)
from orchestration.defs.resources import SettingsResource

PEPPER = "a-pepper-long-enough-0123"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/token-in-the-path"


def _settings(tmp_path: Path, **variables: str) -> Settings:
    return Settings.from_environment({"COWORK_DATA_DIR": str(tmp_path / "data"), **variables})


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.otel_dirs == (settings.data_dir / "simulated" / "otel",)
    assert settings.privacy is PrivacyMode.STANDARD and settings.pepper is None
    assert (settings.content_retention_days, settings.raw_retention_days) == (None, None)
    assert settings.compliance_api_key is None
    assert settings.compliance_base_url == "https://api.anthropic.com"
    assert settings.alert_webhook_url is None
    assert (settings.alert_lookback_days, settings.alert_silent_days) == (3, 2)
    assert settings.dagster_home == settings.data_dir / "dagster"
    assert settings.duckdb_memory_mib == default_duckdb_memory_mib()
    # No Compliance key, no billing key, no collector folder.
    assert len(settings.skipped_sources()) == 3


def test_every_variable_is_read(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    settings = _settings(
        tmp_path,
        COWORK_OTEL_DIR=f"{first}{os.pathsep}{second}",
        COWORK_PRIVACY=" Strict ",
        COWORK_PII_PEPPER=PEPPER,
        COWORK_RETENTION_DAYS="7",
        COWORK_RAW_RETENTION_DAYS="30",
        ANTHROPIC_COMPLIANCE_API_KEY="sk-ant-api01-key",
        ANTHROPIC_COMPLIANCE_BASE_URL="http://127.0.0.1:9",
        ANTHROPIC_ADMIN_API_KEY="sk-ant-admin01-key",
        ANTHROPIC_ANALYTICS_API_KEY="sk-ant-api01-analytics",
        ANTHROPIC_BASE_URL="http://127.0.0.1:8",
        COWORK_ALERT_WEBHOOK_URL=WEBHOOK,
        COWORK_DAGSTER_URL="https://dagster.example.com",
        COWORK_ALERT_LOOKBACK_DAYS="5",
        COWORK_ALERT_SILENT_DAYS="4",
        DAGSTER_HOME=str(tmp_path / "home"),
        COWORK_DUCKDB_MEMORY_LIMIT="3GiB",
    )
    assert settings.otel_dirs == (first, second)
    assert settings.privacy is PrivacyMode.STRICT and settings.pepper == PEPPER.encode()
    assert (settings.content_retention_days, settings.raw_retention_days) == (7, 30)
    assert settings.compliance_api_key == Secret("sk-ant-api01-key", "ANTHROPIC_COMPLIANCE_API_KEY")
    assert settings.compliance_base_url == "http://127.0.0.1:9"
    assert settings.admin_api_key == Secret("sk-ant-admin01-key", "ANTHROPIC_ADMIN_API_KEY")
    assert settings.analytics_api_key.value == "sk-ant-api01-analytics"
    assert settings.anthropic_base_url == "http://127.0.0.1:8"
    assert settings.alert_webhook_url.value == WEBHOOK
    assert settings.dagster_url == "https://dagster.example.com"
    assert (settings.alert_lookback_days, settings.alert_silent_days) == (5, 4)
    assert settings.dagster_home == tmp_path / "home"
    assert settings.duckdb_memory_limit == "3072MiB"


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        # DuckDB's units: KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024.
        ("4GiB", 4096),
        ("4 gib", 4096),
        ("3000MB", 2861),
        ("1.5GB", 1430),
        ("512MiB", 512),
        ("1TB", 953674),
    ],
)
def test_the_duckdb_memory_limit_reads_duckdbs_units(tmp_path: Path, text: str, mib: int) -> None:
    assert _settings(tmp_path, COWORK_DUCKDB_MEMORY_LIMIT=text).duckdb_memory_mib == mib


def test_the_default_duckdb_memory_limit_is_an_eighth_of_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_module, "machine_memory_bytes", lambda: 24 * 2**30)
    assert settings_module.default_duckdb_memory_mib() == 3072
    # A small machine (or container) still gives a build 1 GiB.
    monkeypatch.setattr(settings_module, "machine_memory_bytes", lambda: 4 * 2**30)
    assert settings_module.default_duckdb_memory_mib() == 1024


def test_the_machine_memory_is_the_physical_memory_at_most() -> None:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < settings_module.machine_memory_bytes() <= physical


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"COWORK_PRIVACY": "loose"}, "COWORK_PRIVACY='loose' is not one of: strict"),
        ({"COWORK_PRIVACY": "strict"}, "COWORK_PII_PEPPER is not set"),
        (
            {"COWORK_PRIVACY": "strict", "COWORK_PII_PEPPER": "short"},
            "COWORK_PII_PEPPER is shorter than 16 characters",
        ),
        ({"COWORK_RETENTION_DAYS": "abc"}, "COWORK_RETENTION_DAYS: 'abc' is not a whole number"),
        ({"COWORK_RAW_RETENTION_DAYS": "0"}, "COWORK_RAW_RETENTION_DAYS: '0' is not a whole"),
        ({"COWORK_ALERT_LOOKBACK_DAYS": "-1"}, "COWORK_ALERT_LOOKBACK_DAYS: '-1' is not a whole"),
        ({"COWORK_ALERT_SILENT_DAYS": "2.5"}, "COWORK_ALERT_SILENT_DAYS: '2.5' is not a whole"),
        (
            {"COWORK_BILLING_BACKFILL_DAYS": "400"},
            "COWORK_BILLING_BACKFILL_DAYS: 400 is not a number of days from 1 to 365",
        ),
        (
            {"COWORK_ALERT_BILLED_DIVERGENCE_PERCENT": "-5"},
            "COWORK_ALERT_BILLED_DIVERGENCE_PERCENT: '-5' is not a number >= 0",
        ),
        (
            {"COWORK_ALERT_BILLED_DIVERGENCE_USD": "ten"},
            "COWORK_ALERT_BILLED_DIVERGENCE_USD: 'ten' is not a number >= 0",
        ),
        (
            {"ANTHROPIC_COMPLIANCE_BASE_URL": "api.anthropic.com"},
            "ANTHROPIC_COMPLIANCE_BASE_URL: 'api.anthropic.com' is not an http(s) URL",
        ),
        ({"COWORK_DAGSTER_URL": "localhost:3000"}, "COWORK_DAGSTER_URL: 'localhost:3000' is not"),
        (
            {"COWORK_DUCKDB_MEMORY_LIMIT": "lots"},
            "COWORK_DUCKDB_MEMORY_LIMIT: 'lots' is not an amount of memory such as 4GiB",
        ),
        ({"COWORK_DUCKDB_MEMORY_LIMIT": "4"}, "COWORK_DUCKDB_MEMORY_LIMIT: '4' is not an amount"),
        (
            {"COWORK_DUCKDB_MEMORY_LIMIT": "100MB"},
            "COWORK_DUCKDB_MEMORY_LIMIT: 95 MiB is below the 256 MiB a build needs",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _settings(tmp_path, **variables)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_webhook_url_is_named_but_never_shown(tmp_path: Path) -> None:
    secret = "hooks.slack.com/services/T000/B000/the-token"
    with pytest.raises(ConfigurationError, match="COWORK_ALERT_WEBHOOK_URL") as raised:
        _settings(tmp_path, COWORK_ALERT_WEBHOOK_URL=secret)
    assert "the-token" not in str(raised.value)


def test_an_unreadable_collector_folder_is_refused_and_a_missing_one_is_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "otel"
    missing = _settings(tmp_path, COWORK_OTEL_DIR=str(folder))
    assert any(str(folder) in notice for notice in missing.skipped_sources())
    folder.mkdir()
    # Runs as root too (where chmod does not stop reads): the check asks os.access.
    from configuration import settings as settings_module

    unreadable = lambda path, mode: not mode & os.R_OK  # noqa: E731 (writable, not readable)
    monkeypatch.setattr(settings_module.os, "access", unreadable)
    with pytest.raises(ConfigurationError, match=f"COWORK_OTEL_DIR: the collector folder {folder}"):
        _settings(tmp_path, COWORK_OTEL_DIR=str(folder))
    (tmp_path / "file").write_text("")
    monkeypatch.undo()
    with pytest.raises(ConfigurationError, match="is a file, not a directory"):
        _settings(tmp_path, COWORK_OTEL_DIR=str(tmp_path / "file"))


def test_secrets_never_show_in_a_repr(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        COWORK_PRIVACY="strict",
        COWORK_PII_PEPPER=PEPPER,
        ANTHROPIC_COMPLIANCE_API_KEY="sk-ant-api01-SENTINEL",
        COWORK_ALERT_WEBHOOK_URL=WEBHOOK,
    )
    shown = f"{settings!r} {settings} {settings.pii_pepper} {settings.compliance_api_key}"
    assert PEPPER not in shown and "SENTINEL" not in shown and "token-in-the-path" not in shown
    assert "COWORK_PII_PEPPER" in shown  # where it came from is shown


def test_a_change_is_checked_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(PepperMissingError):
        settings.with_changes(privacy=PrivacyMode.STRICT)
    moved = settings.with_changes(data_dir=tmp_path / "elsewhere")
    assert moved.otel_dirs == ((tmp_path / "elsewhere" / "simulated" / "otel"),)


def test_a_child_process_gets_the_paths_and_mode_of_these_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, COWORK_OTEL_DIR=str(tmp_path / "otel"))
    base = {"PATH": "/bin", "COWORK_DATA_DIR": "/somewhere/else", "ANTHROPIC_X": "kept"}
    child = settings.child_environment(base)
    assert child["COWORK_DATA_DIR"] == str(settings.data_dir)
    assert child["COWORK_OTEL_DIR"] == str(tmp_path / "otel")
    assert child["COWORK_PRIVACY"] == "standard"
    assert child["DAGSTER_HOME"] == str(settings.data_dir / "dagster")
    assert child["PATH"] == "/bin" and child["ANTHROPIC_X"] == "kept"
    # The child reads the same settings (its Dagster home now given explicitly).
    read = Settings.from_environment(child)
    assert read.with_changes(configured_dagster_home=None) == settings


def test_the_dagster_resource_keeps_secrets_as_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {
        "COWORK_PRIVACY": "strict",
        "COWORK_PII_PEPPER": PEPPER,
        "ANTHROPIC_COMPLIANCE_API_KEY": "sk-ant-api01-SENTINEL",
    }
    settings = _settings(tmp_path, **variables)
    resource = SettingsResource.from_settings(settings)
    assert resource.pii_pepper == dg.EnvVar("COWORK_PII_PEPPER")
    assert resource.compliance_api_key == dg.EnvVar("ANTHROPIC_COMPLIANCE_API_KEY")
    assert resource.alert_webhook_url is None
    # In a run, Dagster reads the variables in the step's process.
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    seen = {}

    @dg.asset
    def reads(settings: SettingsResource) -> None:
        seen["settings"] = settings.settings()

    assert dg.materialize([reads], resources={"settings": resource}).success
    assert seen["settings"] == settings


def test_a_secret_given_in_code_never_reaches_dagsters_storage(tmp_path: Path) -> None:
    """Dagster stores resource config in its run storage: only a variable's name may go."""
    given = Settings(data_dir=tmp_path, compliance_api_key=Secret("sk-ant-api01-SENTINEL"))
    with pytest.raises(ConfigurationError, match="set it in the environment"):
        SettingsResource.from_settings(given)
    demo = given.with_changes(compliance_api_key=Secret("sk-ant-demo-key", published=True))
    assert SettingsResource.from_settings(demo).compliance_api_key == "sk-ant-demo-key"
