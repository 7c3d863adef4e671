"""The dbt project (at the repository root), with its manifest prepared on first load."""

from __future__ import annotations

from dagster_dbt import DbtProject
from dbt.cli.main import dbtRunner

from orchestration.lib.environment import REPOSITORY_ROOT

dbt_project = DbtProject(project_dir=REPOSITORY_ROOT, profiles_dir=REPOSITORY_ROOT)


def parse_dbt_project() -> None:
    """Write target/manifest.json with dbt's in-process runner (no dbt on PATH needed)."""
    result = dbtRunner().invoke(
        [
            "parse",
            "--quiet",
            "--project-dir",
            str(dbt_project.project_dir),
            "--profiles-dir",
            str(dbt_project.profiles_dir),
            "--target-path",
            str(dbt_project.target_path),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")


def manifest_is_stale() -> bool:
    """True when there is no manifest, or a dbt file changed after it was written."""
    if not dbt_project.manifest_path.exists():
        return True
    written = dbt_project.manifest_path.stat().st_mtime_ns
    sources = [REPOSITORY_ROOT / "dbt_project.yml", REPOSITORY_ROOT / "profiles.yml"]
    sources += [path for path in (REPOSITORY_ROOT / "dbt_project").rglob("*") if path.is_file()]
    return any(path.stat().st_mtime_ns > written for path in sources if path.exists())


# A fresh clone has no target/manifest.json, and an edited project has a stale one: parse
# so that definitions always load, and match the code, without a manual `dbt parse`.
if manifest_is_stale():
    parse_dbt_project()
