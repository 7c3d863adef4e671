"""`ingestion/` is the lowest layer: it imports no package built on top of it.

The landing must run (and be tested) with nothing above it; a lazy import inside a function
counts too, since it is a dependency all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
ABOVE_INGESTION = {
    "alerting",
    "cowork_analytics",
    "governance",
    "orchestration",
    "reporting",
    "warehouse",
}


def _imported_packages(path: Path) -> set[str]:
    """The top-level package of every absolute import in `path`, wherever it appears."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


INGESTION_MODULES = sorted((REPOSITORY_ROOT / "ingestion").rglob("*.py"))


@pytest.mark.parametrize(
    "path", INGESTION_MODULES, ids=[str(p.relative_to(REPOSITORY_ROOT)) for p in INGESTION_MODULES]
)
def test_ingestion_imports_nothing_above_it(path: Path) -> None:
    above = _imported_packages(path) & ABOVE_INGESTION
    assert not above, f"{path.relative_to(REPOSITORY_ROOT)} imports {sorted(above)}"


CONFIGURATION_MODULES = sorted((REPOSITORY_ROOT / "configuration").rglob("*.py"))


@pytest.mark.parametrize(
    "path",
    CONFIGURATION_MODULES,
    ids=[str(p.relative_to(REPOSITORY_ROOT)) for p in CONFIGURATION_MODULES],
)
def test_configuration_is_the_bottom_layer(path: Path) -> None:
    """Every package reads its settings from `configuration/`, which imports none of them."""
    first_party = {p.parent.name for p in REPOSITORY_ROOT.glob("*/__init__.py")}
    above = _imported_packages(path) & (first_party - {"configuration"})
    assert not above, f"{path.relative_to(REPOSITORY_ROOT)} imports {sorted(above)}"


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def run():\n    from warehouse.build import build_warehouse\n")
    assert _imported_packages(module) == {"warehouse"}
