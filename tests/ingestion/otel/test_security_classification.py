"""The landing's security classification of tool calls (ingestion/otel/security.py).

Every pattern of ingestion/otel/security_patterns.py is run through the classifier itself
(DuckDB's RE2, as the landing runs it) on a text it must find and on a look-alike it must
not. Fake secrets are assembled at run time so that no scanner mistakes this file for a leak.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.otel.security import SECURITY_COLUMN_TYPES, classify_tool_calls, registrable_domain
from ingestion.otel.security_patterns import SECRETS, SENSITIVE_PATHS

WORKSPACE = "/Users/ann/Documents/code"
A36 = "a1B2c3D4e5" * 3 + "f6G7h8"  # 36 characters

# kind -> (commands holding one, look-alikes that do not)
SECRET_CASES = {
    "aws_access_key_id": (
        ["AWS_ACCESS_KEY_ID=" + "AKIA" + "IOSFODNN7EXAMPLE aws s3 ls"],
        ["AKIA lowercase akiaiosfodnn7example"],
    ),
    "aws_secret_access_key": (
        ["export AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"],
        ["export AWS_SECRET_ACCESS_KEY=$SECRET", "aws_region=eu-west-1"],
    ),
    "github_token": (
        [
            "git clone https://" + "ghp_" + A36 + "@github.com/o/r",
            "GH=" + "github_pat_" + "11ABCDEFG0123456789abcdefghij",
        ],
        ["ghp_short", "git checkout gh-pages"],
    ),
    "gitlab_token": (
        ["glpat-" + "xY12ab34CD56ef78GH90"],
        ["glpat-short", "gitlab-runner register"],
    ),
    "slack_token": (
        [
            "curl -H 'x: " + "xoxb-" + "1234-5678-abcdef'",
            "https://hooks.slack.com/services/" + "T000/B000/XXXX",
        ],
        ["xoxb-no-digits", "https://slack.com/services"],
    ),
    "stripe_key": (
        ["sk" + "_live_" + "0123456789abcdefghijABCD"],
        ["sk_test_0123456789abcdefghijABCD"],
    ),
    "openai_key": (
        [
            "sk-" + "abcdefghij0123456789" + "T3Blbk" + "FJ" + "abcdefghij0123456789",
            "sk-" + "proj-" + "a" * 48,
        ],
        ["sk-short", "task-proj-list"],
    ),
    "anthropic_key": (
        ["ANTHROPIC_API_KEY=" + "sk-ant-" + "api03-" + "x" * 60],
        ["sk-ant-docs", "sk-ant-api03-short"],
    ),
    "google_api_key": (
        ["key=" + "AIza" + "SyA0123456789abcdefghijklmnopqrstuv"],
        ["AIza too short"],
    ),
    "private_key": (
        [
            "printf '" + "-----BEGIN " + "OPENSSH PRIVATE KEY-----\\nb3Bl'",
            "-----BEGIN " + "PRIVATE KEY-----",
        ],
        ["-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"],
    ),
    "password_in_url": (
        ["psql postgres://app:" + "s3cretpw" + "@db.internal:5432/app"],
        ["curl https://user@example.com/", "curl https://example.com:8443/a@b"],
    ),
    "jwt": (
        [
            "curl -H 'Cookie: t="
            + "eyJhbGciOiJIUzI1NiJ9"
            + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
            + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'"
        ],
        ["eyJhbGciOiJIUzI1NiJ9 alone"],
    ),
    "sendgrid_key": (
        ["SG." + "abcdefghij0123456789AB" + "." + "abcdefghij0123456789ABCDEFGHIJ0123456789abc"],
        ["SG.short.key"],
    ),
    "npm_token": (["//registry.npmjs.org/:_authToken=" + "npm_" + A36], ["npm_config_cache=/tmp"]),
    "pypi_token": (
        ["TWINE_PASSWORD=" + "pypi-AgEIcHlwaS5vcmc" + "C" * 60],
        ["pip install pypi-simple"],
    ),
    "azure_storage_key": (["AccountKey=" + "A" * 86 + "=="], ["AccountKey=$KEY"]),
    "bearer_token": (
        ["curl -H 'Authorization: " + "Bearer " + "abcdef0123456789XYZ'"],
        ["curl -H 'Authorization: Bearer $TOKEN'"],
    ),
    "password_assignment": (
        ["mysql --password=" + "Tr0ub4dor3x", '{"api_key": "' + "live0123456789" + '"}'],
        ["mysql --password=$DB_PASSWORD", "password: ********", "secret=<redacted>"],
    ),
}

# kind -> (paths or commands touching one, look-alikes that do not)
SENSITIVE_CASES = {
    "ssh_key": (
        ["~/.ssh/id_rsa", "cat /home/ann/.ssh/config", "id_ed25519.pub"],
        ["/srv/ssh/notes.md", "grid_rsa.txt"],
    ),
    "private_key_file": (
        ["deploy/server.pem", "certs/client.p12", "vault.kdbx"],
        ["src/pem_reader.py", "keys.md"],
    ),
    "cloud_credentials": (
        [
            "~/.aws/credentials",
            "/Users/ann/.config/gcloud/application_default_credentials.json",
            "~/.kube/config",
            "credentials.json",
        ],
        ["docs/aws/config-guide.md", "credentials_manager.py"],
    ),
    "tool_credentials": (
        ["~/.netrc", "/home/ann/.git-credentials", "cat ~/.npmrc", "~/.pypirc"],
        ["netrc_parser.py", "docs/npmrc.md"],
    ),
    "env_file": (
        [".env", "/Users/ann/app/.env.local", "source .env"],
        [".env.example", ".envrc", "/Users/ann/.venv/bin/python"],
    ),
    "shell_history": (
        ["~/.bash_history", "cat ~/.zsh_history", "~/.local/share/fish/fish_history"],
        ["docs/history.md", "src/history_view.py"],
    ),
    "browser_profile": (
        [
            "/Users/ann/Library/Application Support/Google/Chrome/Default/Login Data",
            "~/.mozilla/firefox/x.default/cookies.sqlite",
        ],
        ["docs/chrome-extension.md"],
    ),
    "credential_store": (
        ["~/Library/Keychains/login.keychain-db", "~/.gnupg/secring.gpg", "/etc/shadow"],
        ["/etc/hosts", "keychain_notes.md"],
    ),
}


def _classify(tool_inputs: list[str | None], **overrides: list) -> list[dict]:
    rows = len(tool_inputs)
    columns = {
        "tool_name": pa.array(overrides.get("tool_name", ["Bash"] * rows), pa.string()),
        "tool_input": pa.array(tool_inputs, pa.string()),
        "tool_parameters": pa.array(overrides.get("tool_parameters", [None] * rows), pa.string()),
        "workspace_host_paths": pa.array(
            overrides.get("workspace_host_paths", [[WORKSPACE]] * rows), pa.list_(pa.string())
        ),
    }
    found = classify_tool_calls(duckdb.connect(), columns, rows)
    assert set(found) == set(SECURITY_COLUMN_TYPES)
    assert all(len(column) == rows for column in found.values())
    return pa.table(found).to_pylist()


def _command(text: str) -> str:
    return json.dumps({"command": text})


def test_every_pattern_has_cases() -> None:
    assert set(SECRET_CASES) == {pattern.kind for pattern in SECRETS}
    assert set(SENSITIVE_CASES) == {pattern.kind for pattern in SENSITIVE_PATHS}


@pytest.mark.parametrize("kind", sorted(SECRET_CASES))
def test_secret_pattern_finds_its_kind_and_not_its_look_alikes(kind: str) -> None:
    positives, negatives = SECRET_CASES[kind]
    for text, row in zip(positives, _classify([_command(text) for text in positives]), strict=True):
        assert kind in (row["secret_kinds"] or "").split(","), text
    for text, row in zip(negatives, _classify([_command(text) for text in negatives]), strict=True):
        assert kind not in (row["secret_kinds"] or "").split(","), text


@pytest.mark.parametrize("kind", sorted(SENSITIVE_CASES))
def test_sensitive_path_pattern_finds_its_kind_and_not_its_look_alikes(kind: str) -> None:
    positives, negatives = SENSITIVE_CASES[kind]
    inputs = [json.dumps({"file_path": text}) for text in positives + negatives]
    rows = _classify(inputs, tool_name=["Read"] * len(inputs))
    for text, row in zip(positives, rows, strict=False):
        assert (row["target_class"], row["sensitive_kind"]) == ("sensitive", kind), text
    for text, row in zip(negatives, rows[len(positives) :], strict=True):
        assert row["sensitive_kind"] != kind, text


def test_the_secret_itself_is_never_kept() -> None:
    secret = "AKIA" + "IOSFODNN7EXAMPLE"
    (row,) = _classify([_command(f"aws configure set aws_access_key_id {secret}")])
    assert row["secret_kinds"] == "aws_access_key_id"
    assert secret not in json.dumps(row)


def test_target_classes() -> None:
    paths = [
        f"{WORKSPACE}/src/app.py",
        WORKSPACE,
        "src/app.py",
        "/etc/hosts",
        "C:\\Windows\\System32\\drivers\\etc\\hosts",
        "/Users/ann/Downloads/report.pdf",
        f"{WORKSPACE}-old/app.py",
    ]
    rows = _classify([json.dumps({"file_path": path}) for path in paths], tool_name=["Read"] * 7)
    assert [row["target_class"] for row in rows] == [
        "workspace",
        "workspace",
        "workspace",
        "system",
        "system",
        "outside_workspace",
        "outside_workspace",
    ]


def test_no_workspace_known_is_unknown_not_outside() -> None:
    (row,) = _classify([json.dumps({"file_path": "/home/ann/x.py"})], workspace_host_paths=[None])
    assert row["target_class"] == "unknown"


def test_commands_are_classified_by_what_they_touch() -> None:
    rows = _classify([_command("cat ~/.aws/credentials"), _command("git status")])
    assert [(row["target_class"], row["sensitive_kind"]) for row in rows] == [
        ("sensitive", "cloud_credentials"),
        ("none", None),
    ]


def test_egress_keeps_the_registrable_domain_only() -> None:
    inputs = [
        json.dumps({"url": "https://docs.python.org/3/library/zoneinfo.html?q=secret"}),
        _command("curl -s https://deploy:pw123456@api.eu.example.co.uk:8443/v1"),
        json.dumps({"url": "http://10.0.0.7:8080/admin"}),
        json.dumps({"url": "https://Pages.Project.GitHub.io./x"}),
        _command("git status"),
    ]
    rows = _classify(inputs, tool_name=["WebFetch", "Bash", "WebFetch", "WebFetch", "Bash"])
    assert [row["egress_domain"] for row in rows] == [
        "python.org",
        "example.co.uk",
        "10.0.0.7",
        "project.github.io",
        None,
    ]


def test_registrable_domain_of_names_the_list_cannot_place() -> None:
    assert registrable_domain("localhost") == "localhost"
    assert registrable_domain("co.uk") == "co.uk"


def test_mcp_names_from_parameters_or_tool_name() -> None:
    rows = _classify(
        [json.dumps({"query": "plan"}), None, None],
        tool_name=["mcp_tool", "mcp__google_drive__search__files", "Read"],
        tool_parameters=[
            json.dumps({"mcp_server_name": "jira", "mcp_tool_name": "create_issue"}),
            None,
            None,
        ],
    )
    assert [(row["mcp_server_name"], row["mcp_tool_name"]) for row in rows] == [
        ("jira", "create_issue"),
        ("google_drive", "search__files"),
        (None, None),
    ]
    # An event that carried no tool input at all is not classified.
    assert rows[2]["target_class"] is None


def test_input_that_is_not_json_lands_classified_by_its_text() -> None:
    secret = "ghp_" + A36
    rows = _classify(["{not json " + secret, "[1, 2", None], tool_name=["Bash", "Read", "Bash"])
    assert rows[0]["target_class"] == "none"
    assert rows[0]["secret_kinds"] == "github_token"
    assert rows[1]["target_class"] == "none"
    assert rows[2]["target_class"] is None


_TEXT = st.one_of(st.none(), st.text(), st.sampled_from(["{}", "[]", "null", '{"file_path": 1}']))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TEXT, _TEXT, _TEXT, st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text())))
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_text_in_a_tool_call_is_classified_never_a_crash(calls) -> None:
    names, inputs, parameters, workspaces = (list(column) for column in zip(*calls, strict=True))
    rows = _classify(
        inputs, tool_name=names, tool_parameters=parameters, workspace_host_paths=workspaces
    )
    for row, text, sent in zip(rows, inputs, parameters, strict=True):
        assert (row["target_class"] is None) == (text is None and sent is None)
