"""Rules about the code's shape, checked by reading the source (no imports of it).

Production code is every package the wheel ships (`[tool.hatch.build.targets.wheel]` in
pyproject.toml); `tests/`, `benchmarks/` and `tools/` are not shipped.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "benchmarks", "tools"}


def _wheel_packages() -> list[str]:
    settings = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())
    return settings["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def _first_party() -> set[str]:
    """Top-level names importable from the repository root: packages and lone modules."""
    names = {path.parent.name for path in REPOSITORY_ROOT.glob("*/__init__.py")}
    return names | {path.stem for path in REPOSITORY_ROOT.glob("*.py")}


def _imports(package: str) -> Iterator[tuple[Path, int, str]]:
    """(file, line, absolute module name) of every import in a package, lazy ones included."""
    for path in sorted((REPOSITORY_ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:  # `from dagster import _check` names a module too
                    yield path, node.lineno, f"{node.module}.{alias.name}"


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPOSITORY_ROOT)}:{line}"


def test_every_first_party_package_is_shipped_or_named_as_not_shipped() -> None:
    """A new top-level package must join the wheel (or be declared a dev-only folder)."""
    unlisted = _first_party() - set(_wheel_packages()) - NOT_SHIPPED
    assert not unlisted, f"add to the wheel's packages in pyproject.toml: {sorted(unlisted)}"


def test_the_wheel_ships_every_first_party_package_its_code_imports() -> None:
    """What the editable install hides: a shipped module importing an unshipped package."""
    shipped, first_party = set(_wheel_packages()), _first_party()
    missing = [
        f"{_where(path, line)} imports {module}"
        for package in shipped
        for path, line, module in _imports(package)
        if module.split(".")[0] in first_party - shipped
    ]
    assert not missing, missing


def test_production_code_imports_no_private_dagster_module() -> None:
    """`dagster._…` can change in any release; production code uses Dagster's public API."""
    private = [
        f"{_where(path, line)} imports {module}"
        for package in _wheel_packages()
        for path, line, module in _imports(package)
        if module.split(".")[0].startswith("dagster") and "._" in f".{module}"
    ]
    assert not private, private


# Reading or writing the environment: `os.environ` (any use), `os.getenv`, `os.putenv`.
ENVIRONMENT_ACCESS = {("os", "environ"), ("os", "getenv"), ("os", "putenv"), ("os", "unsetenv")}


def _environment_accesses(folder: Path) -> Iterator[tuple[Path, int]]:
    """(file, line) of every use of the environment under `folder`."""
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in ENVIRONMENT_ACCESS
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(("os", alias.name) in ENVIRONMENT_ACCESS for alias in node.names)
            ):
                yield path, node.lineno


def test_settings_are_read_from_the_environment_in_one_place() -> None:
    """Only `configuration/` reads the product's settings from the environment.

    So nothing under `orchestration/defs/` reads it, and nothing writes it to pass settings
    along (a child process gets its environment as an argument).
    """
    allowed = {
        "configuration/settings.py",  # the one reader of the product's settings
        "ingestion/crash.py",  # COWORK_TEST_CRASH_AT: a fault-injection hook for tests
        "orchestration/lib/instance_settings.py",  # its script reads Dagster's DAGSTER_HOME
    }
    found = [
        _where(path, line)
        for package in _wheel_packages()
        for path, line in _environment_accesses(REPOSITORY_ROOT / package)
        if str(path.relative_to(REPOSITORY_ROOT)) not in allowed
    ]
    assert not found, f"read settings through configuration.settings.Settings: {found}"


def test_the_check_sees_every_kind_of_environment_access(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        "import os\nfrom os import getenv\nos.environ['A'] = '1'\nx = os.environ.get('B')\n"
        "os.putenv('C', '2')\n"
    )
    assert sorted(line for _, line in _environment_accesses(tmp_path)) == [2, 3, 4, 5]
