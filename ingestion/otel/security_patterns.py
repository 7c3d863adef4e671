"""The patterns the landing classifies tool calls with: sensitive paths, secrets, system paths.

Every pattern is RE2 (the regex engine of DuckDB and Arrow), so the whole batch is matched
in one vectorised pass: no lookarounds, no backreferences. Each cites where it comes from.

Secret patterns are adapted from detect-secrets 1.5.0 (`detect_secrets/plugins/<file>`,
Apache-2.0) and gitleaks 8 (`config/gitleaks.toml`, rule ids, MIT). detect-secrets itself is
not a dependency: its plugins are Python `re` patterns (lookaheads, backreferences) run line
by line, which RE2 refuses and which would put a Python loop per record in the landing.
Where a pattern was changed to fit RE2 the note says how. Keyword, entropy and IP plugins
are left out: they flag ordinary commands (hashes, checksums, addresses) far too often.

Sensitive path patterns follow MITRE ATT&CK's credential-access techniques (T1552.001
credentials in files, T1552.003 shell history, T1552.004 private keys, T1555.001 keychain,
T1555.003 credentials from web browsers, T1539 web session cookies) and the default file
locations documented by the tools that write them.

Tests: tests/ingestion/otel/test_security_classification.py gives each pattern a positive
and a negative case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """One kind of finding.

    Attributes:
        kind: The name landed when the pattern matches (never the matched text).
        regex: RE2 pattern searched anywhere in the text.
        source: Where the pattern comes from.
        unless: RE2 pattern that, when it also matches, means no finding (templates such as
            `.env.example`), or None.
    """

    kind: str
    regex: str
    source: str
    unless: str | None = None


# A path component starts at the start, after a separator, a space, `~`, `=` or a quote
# (a command such as `cat ~/.ssh/id_rsa`, `--file=.env`, or JSON text).
_START = r"""(^|[/\\\s~="'])"""
# ... and ends at the end, a separator, a space or a quote.
_END = r"""($|[/\\\s"'])"""

SENSITIVE_PATHS = (
    Pattern(
        "ssh_key",
        rf"{_START}\.ssh{_END}|{_START}id_(rsa|dsa|ecdsa|ed25519)(_sk)?(\.pub)?{_END}",
        "MITRE ATT&CK T1552.004; ssh-keygen(1) FILES (~/.ssh/id_*)",
    ),
    Pattern(
        "private_key_file",
        r"\.(pem|key|p12|pfx|ppk|jks|keystore|kdbx|asc)" + _END,
        "MITRE ATT&CK T1552.004 (key and certificate stores: PEM, PKCS#12, PuTTY, Java, "
        "KeePass kdbx, armoured PGP)",
    ),
    Pattern(
        "cloud_credentials",
        r"\.aws/(credentials|config)|\.config/gcloud/|application_default_credentials\.json"
        r"|\.azure/|\.kube/config|\.docker/config\.json|\.oci/config"
        rf"|{_START}credentials\.json{_END}|service[-_]?account[^/\s]*\.json",
        "MITRE ATT&CK T1552.001; AWS CLI, gcloud, Azure CLI, kubectl, Docker and OCI CLI "
        "documentation of their credential files",
    ),
    Pattern(
        "tool_credentials",
        rf"{_START}[._]netrc{_END}|\.git-credentials|{_START}\.npmrc{_END}"
        rf"|{_START}\.pypirc{_END}|\.config/gh/hosts\.yml|\.cargo/credentials"
        r"|\.terraform\.d/credentials|\.vault-token",
        "MITRE ATT&CK T1552.001; netrc(5), git-credential-store(1), npm, PyPI, GitHub CLI, "
        "Cargo, Terraform and Vault documentation",
    ),
    Pattern(
        "env_file",
        rf"{_START}\.env(\.[A-Za-z0-9_-]+)?{_END}",
        "MITRE ATT&CK T1552.001; dotenv convention (.env, .env.local, .env.production)",
        unless=r"\.env\.(example|sample|template|dist|defaults)" + _END,
    ),
    Pattern(
        "shell_history",
        rf"{_START}\.[a-z_]*_?history{_END}|fish_history|ConsoleHost_history\.txt",
        "MITRE ATT&CK T1552.003 (bash, zsh, python, psql, mysql, node REPL, fish, "
        "PowerShell PSReadLine histories)",
    ),
    Pattern(
        "browser_profile",
        r"Google/Chrome/|google-chrome/|Chromium/|chromium/|BraveSoftware/|Microsoft/Edge/"
        r"|Microsoft Edge/|\.mozilla/firefox/|Firefox/Profiles/|Library/Safari/"
        r"|Login Data|Library/Cookies/",
        "MITRE ATT&CK T1555.003 and T1539 (browser profile folders of Chrome, Chromium, "
        "Brave, Edge, Firefox, Safari)",
    ),
    Pattern(
        "credential_store",
        r"Library/Keychains/|\.gnupg/|\.password-store/|\.local/share/keyrings/"
        r"|/etc/(shadow|gshadow|sudoers)|/etc/ssl/private/",
        "MITRE ATT&CK T1555.001, T1003.008 (macOS keychains, GnuPG, pass, GNOME keyring, "
        "shadow passwords, TLS private keys)",
    ),
)

# Operating-system locations: a tool reading or writing there acts outside the user's work.
SYSTEM_PATH = (
    r"^(/etc|/usr|/bin|/sbin|/lib|/lib64|/boot|/dev|/proc|/sys|/var|/opt|/System"
    r"|/Library|/Applications|/private/etc|/private/var|/root)(/|$)"
    r"|^[A-Za-z]:/(Windows|Program Files|Program Files \(x86\)|ProgramData)(/|$)"
)

SECRETS = (
    Pattern(
        "aws_access_key_id",
        r"(A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}",
        "detect-secrets plugins/aws.py; gitleaks aws-access-token",
    ),
    Pattern(
        "aws_secret_access_key",
        r"(?i)aws.{0,20}(secret|key).{0,20}[=:\s\\'\"]+[0-9a-zA-Z/+]{40}([^0-9a-zA-Z/+]|$)",
        "detect-secrets plugins/aws.py (the quote backreference dropped for RE2)",
    ),
    Pattern(
        "github_token",
        r"(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}|github_pat_[A-Za-z0-9_]{22,}",
        "detect-secrets plugins/github_token.py; gitleaks github-fine-grained-pat",
    ),
    Pattern(
        "gitlab_token",
        r"(glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_-]{20,50}",
        "detect-secrets plugins/gitlab_token.py (the trailing lookahead dropped)",
    ),
    Pattern(
        "slack_token",
        r"(?i)xox[abposr]-([0-9]+-)+[a-z0-9]+"
        r"|https://hooks\.slack\.com/services/T[a-zA-Z0-9_]+/B[a-zA-Z0-9_]+/[a-zA-Z0-9_]+",
        "detect-secrets plugins/slack.py (tokens and webhooks)",
    ),
    Pattern(
        "stripe_key",
        r"(r|s)k_live_[0-9a-zA-Z]{24}",
        "detect-secrets plugins/stripe.py",
    ),
    Pattern(
        "openai_key",
        r"sk-[A-Za-z0-9_-]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"
        r"|sk-(proj|svcacct|admin)-[A-Za-z0-9_-]{40,}",
        "detect-secrets plugins/openai.py; gitleaks openai-api-key (project keys)",
    ),
    Pattern(
        "anthropic_key",
        r"sk-ant-(api|admin)[0-9]{2}-[A-Za-z0-9_-]{40,}",
        "gitleaks anthropic-api-key and anthropic-admin-api-key (length loosened)",
    ),
    Pattern(
        "google_api_key",
        r"AIza[0-9A-Za-z_-]{35}",
        "gitleaks gcp-api-key",
    ),
    Pattern(
        "private_key",
        r"-----BEGIN ((RSA|DSA|EC|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY( BLOCK)?-----"
        r"|PuTTY-User-Key-File-[23]",
        "detect-secrets plugins/private_key.py",
    ),
    Pattern(
        "password_in_url",
        r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"\\]+:[^/\s@'\"\\]+@",
        "detect-secrets plugins/basic_auth.py (userinfo with a password)",
    ),
    Pattern(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
        "gitleaks jwt; detect-secrets plugins/jwt.py (header and payload both JSON objects)",
    ),
    Pattern(
        "sendgrid_key",
        r"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}",
        "detect-secrets plugins/sendgrid.py",
    ),
    Pattern(
        "npm_token",
        r"npm_[A-Za-z0-9]{36}",
        "gitleaks npm-access-token",
    ),
    Pattern(
        "pypi_token",
        r"pypi-AgE(IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}",
        "detect-secrets plugins/pypi_token.py",
    ),
    Pattern(
        "azure_storage_key",
        r"AccountKey=[a-zA-Z0-9+/=]{88}",
        "detect-secrets plugins/azure_storage_key.py",
    ),
    Pattern(
        "bearer_token",
        r"(?i)authorization:\s*bearer\s+[A-Za-z0-9._~+/=-]{16,}",
        "RFC 6750 section 2.1 (an Authorization header with a bearer token)",
    ),
    Pattern(
        "password_assignment",
        r"(?i)(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
        r"[\\'\"]*\s*[=:]\s*[\\'\"]*[^\s\\'\"$*<{%]{8,}",
        "detect-secrets plugins/keyword.py, its assignment forms only (a value of 8 or more "
        "characters that is not a variable, placeholder or mask)",
    ),
)
