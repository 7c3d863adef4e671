"""Server text is redacted of anything shaped like a key before it is shown or stored."""

import pytest

from ingestion.redaction import REDACTED, redact

KEY = "sk-ant-api01-" + "AbC9_-x" * 14


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        pytest.param(f"invalid key {KEY}", (), id="anthropic key"),
        pytest.param("admin key sk-ant-admin01-Zz9", (), id="short anthropic admin key"),
        pytest.param("echo: x-api-key: not-a-prefixed-key", (), id="x-api-key header"),
        pytest.param("Authorization: Bearer abc.def.ghi", (), id="bearer header"),
        pytest.param("got token=0123456789", (), id="token parameter"),
        pytest.param("opaque " + "a1B2c3D4e5" * 5 + " end", (), id="long token"),
        pytest.param("the key was hunter2hunter2!", ("hunter2hunter2",), id="configured key"),
    ],
)
def test_key_shaped_text_is_redacted(text: str, secrets: tuple[str, ...]) -> None:
    redacted = redact(text, secrets)
    assert REDACTED in redacted
    for secret in (KEY, "sk-ant-admin01-Zz9", "not-a-prefixed-key", "abc.def.ghi", "hunter2"):
        assert secret not in redacted
    assert "0123456789" not in redacted and "a1B2c3D4e5" * 5 not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "Missing required scopes. Got: [read:compliance_activities] Needed: [x]",
        "Organization abcdef01-2345-6789-abcd-ef0123456789 not found",
        "invalid cursor activity_01XyDMpzjS89pFZXqSFUBDr6 at /v1/compliance/organizations/x/users",
        "limit must be between 1 and 5000",
        "a_very_long_snake_case_error_type_without_any_digits_at_all",
    ],
)
def test_ordinary_error_text_is_left_alone(text: str) -> None:
    assert redact(text, ("k",)) == text  # a one-letter "key" cannot be told from text


def test_every_occurrence_of_the_configured_key_goes() -> None:
    assert redact("a SECRETVALUE b SECRETVALUE", ["SECRETVALUE"]) == f"a {REDACTED} b {REDACTED}"
