"""The dbt project (at the repository root) and the manifest the definitions load.

Loading the definitions does no dbt work: the manifest is prepared beforehand by
`make install` (or `make manifest` after editing dbt files), which runs `dbt parse`, or
by `prepare_manifest()` called explicitly. Not even under `dagster dev`
(`cowork-analytics ui`): dagster-dbt's `prepare_if_dev` would rewrite the repository's
manifest while other processes (runs, the daemon, tests) read it, and a code location that
loads in the middle of that fails to load.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]

PREPARE_COMMAND = "make manifest"

dbt_project = DbtProject(project_dir=REPOSITORY_ROOT, profiles_dir=REPOSITORY_ROOT)


class ManifestMissingError(FileNotFoundError):
    """The dbt manifest the definitions load has not been prepared."""


def prepare_manifest() -> None:
    """Write target/manifest.json (dbt parse, with dagster-dbt's preparer): an explicit step."""
    dbt_project.preparer.prepare(dbt_project)


def require_manifest() -> None:
    """Raise, in one line naming the command that prepares it, unless the manifest exists.

    Raises:
        ManifestMissingError: target/manifest.json does not exist.
    """
    if not dbt_project.manifest_path.exists():
        raise ManifestMissingError(
            f"{dbt_project.manifest_path} is missing: run `{PREPARE_COMMAND}` (dbt parse)"
            " before loading the Dagster definitions"
        )


require_manifest()
