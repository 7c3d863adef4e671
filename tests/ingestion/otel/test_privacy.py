"""COWORK_PRIVACY: where prompt, response and tool-input text may land."""

import stat
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from configuration.settings import PepperMissingError, PrivacyMode, Settings
from ingestion.otel.land import land_otel
from ingestion.otel.privacy import HASH_PREFIX
from ingestion.otel.schema import SECURITY_COLUMNS
from ingestion.paths import DataLayout

TEXT = ("prompt", "response", "tool_input", "tool_parameters")
PEPPER = b"test-pepper-0123456789abcdef"


def _all_landed_bytes(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*.parquet"))


def _column_values(layout: DataLayout, column: str) -> list:
    return [
        row[0]
        for row in duckdb.sql(
            f"select {column} from read_parquet('{layout.otel_events}/*/*.parquet') where {column} is not null"
        ).fetchall()
    ]


@pytest.fixture(scope="module")
def landed(small_org, tmp_path_factory) -> dict[PrivacyMode, DataLayout]:
    layouts = {}
    for mode in PrivacyMode:
        layout = DataLayout(tmp_path_factory.mktemp(mode.value))
        land_otel([Path(small_org.otel_dir)], layout, privacy=mode, pepper=PEPPER)
        layouts[mode] = layout
    return layouts


def test_full_keeps_text_in_place(landed) -> None:
    layout = landed[PrivacyMode.FULL]
    assert any(
        "Summarise" in prompt or "Reconcile" in prompt or "Draft" in prompt
        for prompt in _column_values(layout, "prompt")
    )
    assert any("file_path" in value for value in _column_values(layout, "tool_input"))
    assert not layout.otel_content.exists()


def test_standard_moves_text_to_an_owner_only_area(landed) -> None:
    layout = landed[PrivacyMode.STANDARD]
    for column in TEXT:
        assert _column_values(layout, column) == [], column
    assert _column_values(layout, "prompt_length")  # lengths stay
    full = landed[PrivacyMode.FULL]
    content_rows = duckdb.sql(
        f"select count(*) from read_parquet('{layout.otel_content}/*/*.parquet') where prompt is not null"
    ).fetchall()[0][0]
    assert content_rows == len(_column_values(full, "prompt"))
    # keyed by event_id, so an authorised reader can join it back
    joined = duckdb.sql(
        f"select count(*) from read_parquet('{layout.otel_content}/*/*.parquet') as content"
        f" join read_parquet('{layout.otel_events}/*/*.parquet') as events using (event_id)"
    ).fetchall()[0][0]
    assert joined > 0
    assert stat.S_IMODE(layout.otel_content.stat().st_mode) == 0o700
    for path in layout.otel_content.rglob("*.parquet"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_strict_writes_no_text_anywhere(landed) -> None:
    layout = landed[PrivacyMode.STRICT]
    full = landed[PrivacyMode.FULL]
    prompts = set(_column_values(full, "prompt")) - {"<REDACTED>"}
    paths = {"/Users/", "python3 report.py", "https://"}
    on_disk = _all_landed_bytes(layout.root)
    for secret in [*prompts, *paths]:
        assert secret.encode() not in on_disk, secret
    assert _column_values(layout, "prompt") == []
    assert _column_values(layout, "prompt_length")
    hashed = _column_values(layout, "tool_input")
    assert hashed and all(HASH_PREFIX in value for value in hashed)
    # the same path hashes the same way, so grouping still works
    assert len(set(hashed)) < len(hashed)
    workspace = _column_values(layout, "workspace_host_paths")
    assert all(path.startswith(HASH_PREFIX) for paths in workspace for path in paths)
    assert PEPPER not in _all_landed_bytes(layout.root)
    assert not list(layout.root.rglob("*.key"))


def test_strict_without_a_pepper_is_a_clear_error_before_anything_lands(
    small_org, tmp_path
) -> None:
    strict = {"COWORK_PRIVACY": "strict"}
    with pytest.raises(PepperMissingError, match="COWORK_PII_PEPPER is not set"):
        Settings.from_environment(strict)
    with pytest.raises(PepperMissingError, match="shorter than 16 characters"):
        Settings.from_environment(strict | {"COWORK_PII_PEPPER": "short"})
    layout = DataLayout(tmp_path)
    with pytest.raises(PepperMissingError, match="no pepper"):
        land_otel([Path(small_org.otel_dir)], layout, privacy=PrivacyMode.STRICT)
    assert not list(tmp_path.rglob("*.parquet"))


def test_an_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="COWORK_PRIVACY='loose' is not one of: strict, standard, full"
    ):
        PrivacyMode.parse("loose")
    assert PrivacyMode.parse(None) is PrivacyMode.STANDARD


def test_security_classification_lands_alike_in_every_mode(landed) -> None:
    """Classified before privacy applies: `strict` keeps class, kinds and domain unchanged,
    and `standard` keeps them on the events (not in the restricted content area)."""
    columns = ", ".join(SECURITY_COLUMNS)
    landed_columns = {
        mode: duckdb.sql(
            f"select event_id, {columns} from read_parquet('{layout.otel_events}/*/*.parquet')"
            " where target_class is not null or mcp_server_name is not null"
            " order by event_id nulls last"
        ).fetchall()
        for mode, layout in landed.items()
    }
    full = landed_columns[PrivacyMode.FULL]
    assert full == landed_columns[PrivacyMode.STANDARD] == landed_columns[PrivacyMode.STRICT]
    classes = {row[1] for row in full}
    assert {"sensitive", "workspace", "none"} <= classes
    assert {row[4] for row in full} >= {"python.org", "wikipedia.org"}
    assert {row[5] for row in full} >= {"google_drive", "slack", "jira"}
    content = pq.read_schema(next(landed[PrivacyMode.STANDARD].otel_content.rglob("*.parquet")))
    assert not set(SECURITY_COLUMNS) & set(content.names)
