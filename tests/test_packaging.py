"""The wheel works without the checkout: installed into a fresh environment, not editable.

The dependencies come from uv.lock through uv's cache (filled by `make install`), so this
runs offline in a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
UV = REPOSITORY_ROOT / ".tools" / "bin" / "uv"


def _uv(*arguments: str, **environment: str) -> None:
    subprocess.run(
        [str(UV), *arguments],
        cwd=REPOSITORY_ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.skipif(not UV.exists(), reason="uv is bootstrapped by `make install`")
def test_the_cli_runs_from_a_non_editable_install(tmp_path: Path) -> None:
    _uv("build", "--quiet", "--offline", "--wheel", "--out-dir", str(tmp_path / "dist"))
    venv = tmp_path / "venv"
    _uv(
        "sync", "--quiet", "--frozen", "--offline", "--no-dev", "--no-install-project",
        UV_PROJECT_ENVIRONMENT=str(venv),
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("*.whl"))
    python = venv / "bin" / "python"
    _uv("pip", "install", "--quiet", "--offline", "--no-deps", "--python", str(python), str(wheel))

    # Run away from the checkout, so nothing is imported from it by accident.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    help_text = _run_outside(outside, venv / "bin" / "cowork-analytics", "--help")
    assert "demo" in help_text

    packages = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())["tool"]["hatch"]
    shipped = packages["build"]["targets"]["wheel"]["packages"]
    found = _run_outside(
        outside, python, "-c", f"import {', '.join(shipped)}; print({shipped[0]}.__file__)"
    )
    assert Path(found.strip()).is_relative_to(venv)  # the installed copy, not the checkout


def _run_outside(folder: Path, *command: str | Path) -> str:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout
