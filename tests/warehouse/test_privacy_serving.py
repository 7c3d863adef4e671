"""Privacy from landing to serving (P1 to P3): what each `COWORK_PRIVACY` mode lets through.

The small organisation's collector files are copied with sentinel strings planted in every
prompt and every workspace and file path, its Compliance directory (real e-mails and names)
is pulled from the emulator, and the warehouse is built and published under `strict` and
under `standard`. Then every serving table, every Parquet export and (for `strict`) every
table of the build database is searched for e-mail addresses and for the sentinels.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from configuration.settings import PepperMissingError, PrivacyMode, Secret, Settings
from governance.pseudonyms import EMAIL_PATTERN, identifier_columns_from_manifest, pseudonym
from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import PullSummary, pull_directory
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
from simulation.generate import GenerationResult
from warehouse.build import build_warehouse
from warehouse.export import export_parquet
from warehouse.publish import (
    PrivacyLeakError,
    ServingPrivacy,
    publish_serving,
    unique_keys_from_manifest,
)

PROMPT_SENTINEL = "SENTINELPROMPTq7x"
PATH_SENTINEL = "SENTINELPATHk3z"
PEPPER = "pepper-of-environment-one-0123456789"
OTHER_PEPPER = "pepper-of-environment-two-9876543210"
SECURITY_MARTS = {"fct_tool_file_access", "fct_security_signals"}
# Planted in generated Bash commands: a password in a URL, a cloud key, a credentials file.
PLANTED_PASSWORD = "SENTINELPWj4v8"
PLANTED_KEY = "AKIA" + "SENTINEL7KEYW4QZ"
PLANTED_COMMANDS = {
    "git status": f"git push https://deploy:{PLANTED_PASSWORD}@10.20.30.40/app.git",
    "pytest -q": f"AWS_ACCESS_KEY_ID={PLANTED_KEY} pytest -q",
    "ls -la": "cat ~/.aws/credentials",
}


def _plant_sentinels(source: Path, target: Path) -> None:
    """Copy collector files with a sentinel in every prompt and every user path, and
    secrets and a sensitive path in Bash commands."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            text = path.read_text()
            for prompt in ("Summarise", "Draft", "Reconcile", "Refactor", "Build", "Find"):
                text = text.replace(f'"{prompt} ', f'"{prompt} {PROMPT_SENTINEL} ')
            text = text.replace("/Users/", f"/Users/{PATH_SENTINEL}/")
            for command, planted in PLANTED_COMMANDS.items():
                text = text.replace(command, planted)
            (target / path.name).write_text(text)


def _build(root: Path, otel: Path, compliance: Path, mode: PrivacyMode) -> DataLayout:
    layout = DataLayout(root)
    land_otel([otel], layout, privacy=mode, pepper=PEPPER.encode())
    with (
        ComplianceEmulator(EmulatorData.load(compliance)) as emulator,
        ComplianceClient("test-key", emulator.url) as client,
    ):
        pull_directory(client, layout, PullSummary())
    result = build_warehouse(layout, settings=_settings(root, mode))
    assert result.success, result.failures or result.error
    return layout


def _settings(root: Path, mode: PrivacyMode) -> Settings:
    return Settings(data_dir=root, privacy=mode, pii_pepper=Secret(PEPPER, "COWORK_PII_PEPPER"))


@pytest.fixture(scope="module")
def builds(
    small_org: GenerationResult, tmp_path_factory: pytest.TempPathFactory
) -> dict[PrivacyMode, DataLayout]:
    root = tmp_path_factory.mktemp("privacy")
    otel = root / "otel"
    _plant_sentinels(Path(small_org.otel_dir), otel)
    compliance = Path(small_org.output_dir) / "compliance"
    return {
        mode: _build(root / mode.value, otel, compliance, mode)
        for mode in (PrivacyMode.STRICT, PrivacyMode.STANDARD)
    }


def _text_values(database: Path, schemas: tuple[str, ...]) -> dict[str, list[str]]:
    """`schema.table.column` -> the distinct values of every text column."""
    values = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        columns = connection.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " where schema_name in (select unnest(?))"
            " and (data_type = 'VARCHAR' or data_type like 'VARCHAR[]%')",
            [list(schemas)],
        ).fetchall()
        for schema, table, column in columns:
            rows = connection.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"'
                f' where "{column}" is not null'
            ).fetchall()
            values[f"{schema}.{table}.{column}"] = [value for (value,) in rows]
    return values


def _hits(values: dict[str, list[str]], needle: str) -> dict[str, int]:
    pattern = re.compile(needle)
    hits = {name: sum(bool(pattern.search(v)) for v in found) for name, found in values.items()}
    return {name: count for name, count in hits.items() if count}


def _directory_emails(layout: DataLayout) -> list[str]:
    pattern = str(layout.compliance("users") / "*" / "*.parquet")
    return [
        email
        for (email,) in duckdb.sql(
            f"select distinct lower(email) from read_parquet('{pattern}') where email is not null"
        ).fetchall()
    ]


def test_the_fixture_really_plants_emails_and_sentinels(builds) -> None:
    # The searches below must be able to find something: in `standard` the directory's
    # e-mails are in dim_users and the planted paths in the security marts.
    standard = _text_values(builds[PrivacyMode.STANDARD].serving_database, ("marts",))
    assert _hits(standard, EMAIL_PATTERN)
    assert _hits(standard, PATH_SENTINEL)
    assert _directory_emails(builds[PrivacyMode.STRICT])
    security = "".join(
        path.read_text(encoding="utf-8")
        for path in builds[PrivacyMode.STANDARD].serving_security.glob("*.jsonl")
    )
    assert re.search(EMAIL_PATTERN, security)  # dim_users' e-mails, in `user.email`


def test_strict_serving_and_parquet_hold_no_email_and_no_sentinel(builds) -> None:
    """P1: 0 hits in every serving table and every Parquet export."""
    layout = builds[PrivacyMode.STRICT]
    serving = _text_values(layout.serving_database, ("marts",))
    assert serving, "the serving database should hold the marts"
    for needle in (EMAIL_PATTERN, PROMPT_SENTINEL, PATH_SENTINEL):
        assert _hits(serving, needle) == {}, needle
    exported = list(layout.serving_parquet.rglob("*.parquet"))
    assert exported
    for path in exported:
        raw = path.read_bytes()
        assert PROMPT_SENTINEL.encode() not in raw and PATH_SENTINEL.encode() not in raw
        table = pq.read_table(path)
        for column in table.column_names:
            if str(table.schema.field(column).type) in ("string", "large_string"):
                text = [value for value in table.column(column).to_pylist() if value]
                assert not any(re.search(EMAIL_PATTERN, value) for value in text), (path, column)
    # The SIEM export (ECS JSON lines) shows the same pseudonyms: no e-mail, no text either.
    security = list(layout.serving_security.glob("security-signals-*.jsonl"))
    assert security, "the security signals should be exported"
    for path in security:
        text = path.read_text(encoding="utf-8")
        assert PROMPT_SENTINEL not in text and PATH_SENTINEL not in text, path
        assert not re.search(EMAIL_PATTERN, text), path


def test_strict_keeps_no_prompt_or_path_text_in_the_build_database_either(builds) -> None:
    """P3: prompt and tool text is absent from landing, staging and marts; lengths remain."""
    layout = builds[PrivacyMode.STRICT]
    everything = _text_values(
        layout.build_database, ("staging", "intermediate", "marts", "main", "reference")
    )
    for needle in (PROMPT_SENTINEL, PATH_SENTINEL, PLANTED_PASSWORD, PLANTED_KEY):
        assert _hits(everything, needle) == {}, needle
    landed = b"".join(path.read_bytes() for path in (layout.root / "landing").rglob("*.parquet"))
    for needle in (PROMPT_SENTINEL, PATH_SENTINEL, PLANTED_PASSWORD, PLANTED_KEY):
        assert needle.encode() not in landed, needle
    with duckdb.connect(str(layout.serving_database), read_only=True) as connection:
        (lengths,) = connection.execute(
            "select count(*) from marts.fct_prompts where prompt_length > 0"
        ).fetchone()
    assert lengths > 0


def test_standard_keeps_emails_in_dim_users_and_targets_in_security_marts(builds) -> None:
    layout = builds[PrivacyMode.STANDARD]
    serving = _text_values(layout.serving_database, ("marts",))
    email_tables = {name.split(".")[1] for name in _hits(serving, EMAIL_PATTERN)}
    assert email_tables == {"dim_users"}
    path_tables = {name.split(".")[1] for name in _hits(serving, PATH_SENTINEL)}
    assert path_tables and path_tables <= SECURITY_MARTS
    assert _hits(serving, PROMPT_SENTINEL) == {}
    # No prompt text in staging or marts (the content area holds tool inputs only).
    built = _text_values(layout.build_database, ("staging", "intermediate", "marts"))
    assert _hits(built, PROMPT_SENTINEL) == {}


def _user_keys(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select user_key from marts.dim_users").fetchall()
    return {key for (key,) in rows}


def test_pseudonyms_are_stable_keyed_and_not_plain_hashes(builds, tmp_path) -> None:
    """P2: same key within an environment, another across peppers, no md5 of an e-mail."""
    strict, standard = builds[PrivacyMode.STRICT], builds[PrivacyMode.STANDARD]
    real_keys = _user_keys(standard.serving_database)
    pseudonyms = _user_keys(strict.serving_database)
    # The strict build's real user keys equal the standard build's (same data).
    with duckdb.connect(str(strict.build_database), read_only=True) as connection:
        built = connection.execute("select user_key from marts.dim_users").fetchall()
    assert {key for (key,) in built} == real_keys
    assert pseudonyms == {pseudonym(PEPPER.encode(), key) for key in real_keys}
    assert not pseudonyms & real_keys
    emails = _directory_emails(strict)
    assert not pseudonyms & {hashlib.md5(email.encode()).hexdigest() for email in emails}

    # A second run with the same settings publishes the same pseudonyms.
    again = build_warehouse(strict, settings=_settings(strict.root, PrivacyMode.STRICT))
    assert again.success
    assert _user_keys(strict.serving_database) == pseudonyms

    # Another environment (pepper) publishing the same build gets other pseudonyms.
    manifest = strict.dbt_target / "manifest.json"
    other = publish_serving(
        strict.build_database,
        tmp_path / "other.duckdb",
        privacy=ServingPrivacy(
            PrivacyMode.STRICT,
            OTHER_PEPPER.encode(),
            identifier_columns_from_manifest(manifest),
        ),
    )
    other_keys = _user_keys(other.path)
    assert len(other_keys) == len(pseudonyms) and not other_keys & pseudonyms


def test_a_new_pepper_or_mode_rewrites_every_table_instead_of_mixing(builds, tmp_path) -> None:
    strict = builds[PrivacyMode.STRICT]
    manifest = strict.dbt_target / "manifest.json"
    serving = tmp_path / "serving.duckdb"
    shutil.copyfile(strict.serving_database, serving)
    identifiers = identifier_columns_from_manifest(manifest)
    keys = unique_keys_from_manifest(manifest)
    for privacy in (
        ServingPrivacy(PrivacyMode.STRICT, OTHER_PEPPER.encode(), identifiers),
        ServingPrivacy(PrivacyMode.STANDARD, None, identifiers),
    ):
        result = publish_serving(strict.build_database, serving, unique_keys=keys, privacy=privacy)
        assert result.incremental_tables == ()
        with duckdb.connect(str(serving), read_only=True) as connection:
            comments = {
                comment
                for (comment,) in connection.execute(
                    "select comment from duckdb_tables() where schema_name = 'marts'"
                ).fetchall()
            }
        assert comments == {privacy.marker}
    assert _user_keys(serving) == _user_keys(builds[PrivacyMode.STANDARD].serving_database)


def test_strict_refuses_to_publish_an_email_in_an_undeclared_column(builds, tmp_path) -> None:
    strict = builds[PrivacyMode.STRICT]
    manifest = strict.dbt_target / "manifest.json"
    identifiers = identifier_columns_from_manifest(manifest)
    identifiers["marts.dim_users"].remove("user_email")  # as if someone forgot to declare it
    serving = tmp_path / "serving.duckdb"
    with pytest.raises(PrivacyLeakError, match=r"marts\.dim_users column\(s\) user_email"):
        publish_serving(
            strict.build_database,
            serving,
            privacy=ServingPrivacy(PrivacyMode.STRICT, PEPPER.encode(), identifiers),
        )
    assert not serving.exists()
    assert not list(tmp_path.iterdir())


def test_strict_build_without_a_pepper_stops_before_dbt(builds) -> None:
    # A strict build cannot be asked for without a pepper: the settings refuse it.
    layout = builds[PrivacyMode.STRICT]
    before = layout.serving_database.stat().st_mtime_ns
    strict = {"COWORK_DATA_DIR": str(layout.root), "COWORK_PRIVACY": "strict"}
    with pytest.raises(PepperMissingError, match="COWORK_PII_PEPPER is not set"):
        build_warehouse(layout, settings=Settings.from_environment(strict))
    assert layout.serving_database.stat().st_mtime_ns == before


def test_parquet_export_follows_a_pepper_change(builds, tmp_path) -> None:
    strict = builds[PrivacyMode.STRICT]
    manifest = strict.dbt_target / "manifest.json"
    serving, parquet = tmp_path / "serving.duckdb", tmp_path / "parquet"
    shutil.copyfile(strict.serving_database, serving)
    shutil.copytree(strict.serving_parquet, parquet)
    publish_serving(
        strict.build_database,
        serving,
        unique_keys=unique_keys_from_manifest(manifest),
        privacy=ServingPrivacy(
            PrivacyMode.STRICT, OTHER_PEPPER.encode(), identifier_columns_from_manifest(manifest)
        ),
    )
    export_parquet(serving, parquet)
    for mart, files in (("dim_users", "dim_users.parquet"), ("fct_tool_calls", "fct_tool_calls")):
        pattern = parquet / files if files.endswith(".parquet") else parquet / files / "*" / "*"
        exported = duckdb.sql(f"select distinct user_key from read_parquet('{pattern}')").fetchall()
        with duckdb.connect(str(serving), read_only=True) as connection:
            served = connection.execute(f"select distinct user_key from marts.{mart}").fetchall()
        assert {key for (key,) in exported} == {key for (key,) in served}, mart
        assert not {key for (key,) in exported} & _user_keys(strict.serving_database), mart


SIGNALS = (
    "select signal_type, severity, user_key, detected_at, tool_name, source_id, evidence"
    " from marts.fct_security_signals order by signal_id nulls last"
)
CLASSIFIED_CALLS = (
    "select tool_call_id, target_class, sensitive_kind, secret_kinds, egress_domain,"
    " mcp_server_name from marts.fct_tool_file_access order by tool_call_id nulls last"
)


def _rows(layout: DataLayout, query: str) -> list[tuple]:
    """Rows of the build database (real user keys in every mode)."""
    with duckdb.connect(str(layout.build_database), read_only=True) as connection:
        return connection.execute(query).fetchall()


def test_strict_gives_the_same_security_signals_as_standard(builds) -> None:
    """Issue 19: one organisation under both modes, the same signals (type, severity,
    person, time, tool): paths, commands and URLs were classified at landing, before
    `strict` hashed them. The build databases hold the real user keys in both modes."""
    strict = _rows(builds[PrivacyMode.STRICT], SIGNALS)
    standard = _rows(builds[PrivacyMode.STANDARD], SIGNALS)
    types = {row[0] for row in standard}
    assert {"sensitive_path_access", "secret_in_command"} <= types
    assert [row[:6] for row in strict] == [row[:6] for row in standard]
    # The evidence names the kind found, never the path or the secret, so it is the same too.
    assert [row[6] for row in strict] == [row[6] for row in standard]
    for row in standard:
        assert PLANTED_PASSWORD not in row[6] and PLANTED_KEY not in row[6]
    kinds = {row[6] for row in standard if row[0] == "secret_in_command"}
    assert any("password_in_url" in text for text in kinds)
    assert any("aws_access_key_id" in text for text in kinds)


def test_tool_call_classification_survives_strict_unchanged(builds) -> None:
    strict = _rows(builds[PrivacyMode.STRICT], CLASSIFIED_CALLS)
    standard = _rows(builds[PrivacyMode.STANDARD], CLASSIFIED_CALLS)
    assert strict == standard
    assert {row[1] for row in standard} >= {"sensitive", "workspace"}
    # Egress keeps the registrable domain in every mode (the generated URLs' sites).
    assert {row[4] for row in strict} >= {"python.org", "wikipedia.org", "sec.gov"}
