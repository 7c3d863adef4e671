"""Errors people can act on: one or two lines naming the setting, path or value, no traceback.

The CLI runs as the installed script, in a subprocess, as a person would run it: the
guarding happens where the script calls the app, which Typer's CliRunner bypasses.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from configuration import settings as settings_module
from configuration.errors import ConfigurationError
from configuration.settings import Settings
from cowork_analytics import cli

CLI = Path(sys.executable).parent / "cowork-analytics"
# A short pepper is refused by `strict`; long enough ones are at least 16 characters.
SHORT_PEPPER = "too-short"


def _run(
    arguments: list[str], cwd: Path, **environment: str
) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI with none of the developer's own settings; return it and its seconds."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COWORK_", "DAGSTER_", "ANTHROPIC_"))
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [str(CLI), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env | environment,
        timeout=600,
        check=False,
    )
    return completed, time.perf_counter() - started


def _assert_one_error(completed: subprocess.CompletedProcess, status: int, *names: str) -> None:
    output = completed.stdout + completed.stderr
    assert completed.returncode == status, output
    assert len([line for line in output.splitlines() if line.strip()]) <= 2, output
    assert "Traceback" not in output
    for name in names:
        assert name in completed.stderr, output


def test_a_missing_input_names_the_option_and_the_path(tmp_path: Path) -> None:
    # Regression: a FileNotFoundError traceback from discover_files, without the option.
    missing = tmp_path / "nope"
    completed, _ = _run(
        ["ingest", "otel", "--data-dir", str(tmp_path / "data"), "--input", str(missing)], tmp_path
    )
    _assert_one_error(completed, 2, "--input", str(missing))


def test_a_missing_collector_folder_names_the_variable_and_the_path(tmp_path: Path) -> None:
    # Regression: the same traceback when the folder came from COWORK_OTEL_DIR.
    missing = tmp_path / "nope"
    completed, _ = _run(["ingest", "otel"], tmp_path, COWORK_OTEL_DIR=str(missing))
    _assert_one_error(completed, 2, "COWORK_OTEL_DIR", str(missing))


@pytest.mark.parametrize(
    ("below_the_file", "expected"),
    [
        pytest.param("", "is a file, not a directory", id="the data dir is a file"),
        pytest.param("data", "cannot be created", id="the data dir is under a file"),
    ],
)
def test_a_data_dir_that_is_a_file_names_the_setting(
    tmp_path: Path, below_the_file: str, expected: str
) -> None:
    # Regression: NotADirectoryError for <data>/state, as a traceback.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    data_dir = blocker / below_the_file if below_the_file else blocker
    inputs = tmp_path / "otel"
    inputs.mkdir()
    completed, _ = _run(
        ["ingest", "otel", "--input", str(inputs)], tmp_path, COWORK_DATA_DIR=str(data_dir)
    )
    _assert_one_error(completed, 2, "COWORK_DATA_DIR", str(blocker), expected)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_data_dir_names_the_setting(tmp_path: Path) -> None:
    # Regression: a PermissionError traceback from the first write under the data dir.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o555)
    try:
        completed, _ = _run(["report", "cost", "--data-dir", str(data_dir)], tmp_path)
    finally:
        data_dir.chmod(0o755)
    _assert_one_error(completed, 2, "--data-dir", str(data_dir), "not writable")


def test_the_writability_check_refuses_what_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs as root too (where chmod does not stop writes): the check asks os.access.
    monkeypatch.setattr(settings_module.os, "access", lambda path, mode: False)
    with pytest.raises(
        ConfigurationError, match=r"COWORK_DATA_DIR \(--data-dir\): .* is not writable"
    ):
        Settings(data_dir=tmp_path)
    with pytest.raises(
        ConfigurationError, match=re.escape(f"cannot be created: {tmp_path} is not writable")
    ):
        Settings(data_dir=tmp_path / "new" / "data")
    monkeypatch.undo()
    Settings(data_dir=tmp_path / "new" / "data")  # creatable: nothing is created yet
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        pytest.param(["ingest", "otel"], "COWORK_RETENTION_DAYS", "abc", id="ingest, not a number"),
        pytest.param(["run"], "COWORK_RETENTION_DAYS", "-3", id="run, negative"),
        pytest.param(["run"], "COWORK_RAW_RETENTION_DAYS", "1.5", id="run, a fraction"),
        pytest.param(["demo"], "COWORK_RAW_RETENTION_DAYS", "0", id="demo, zero"),
    ],
)
def test_a_bad_retention_setting_stops_the_command_before_it_runs(
    tmp_path: Path, command: list[str], variable: str, value: str
) -> None:
    # Regression: "invalid literal for int()" without the variable from `ingest otel`, and
    # a failed landing step after the pipeline had started from `run` and `demo`.
    inputs = tmp_path / "otel"
    inputs.mkdir()
    arguments = [*command, "--data-dir", str(tmp_path / "data")]
    if command == ["ingest", "otel"]:
        arguments += ["--input", str(inputs)]
    completed, seconds = _run(arguments, tmp_path, **{variable: value})
    _assert_one_error(completed, 2, variable, repr(value))
    assert not (tmp_path / "data").exists()  # nothing generated, landed or started
    assert seconds < 30, seconds  # no Dagster import or generation happened before


@pytest.mark.parametrize(
    "command", [["demo"], ["run"], ["ingest", "otel"], ["build"], ["serve"], ["ui"]], ids=" ".join
)
@pytest.mark.parametrize(
    ("pepper", "problem"),
    [
        pytest.param({}, "is not set", id="no pepper"),
        pytest.param({"COWORK_PII_PEPPER": SHORT_PEPPER}, "shorter than 16", id="short pepper"),
    ],
)
def test_strict_without_a_usable_pepper_stops_every_command_before_it_runs(
    tmp_path: Path, command: list[str], pepper: dict[str, str], problem: str
) -> None:
    # Regression: the demo generated the organisation and started the pipeline first. The
    # commands that start long-lived processes (serve, ui) must refuse before starting them.
    completed, seconds = _run(
        [*command, "--data-dir", str(tmp_path / "data")],
        tmp_path,
        COWORK_PRIVACY="strict",
        **pepper,
    )
    _assert_one_error(completed, 2, "COWORK_PII_PEPPER", problem)
    assert len((completed.stdout + completed.stderr).strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()
    assert seconds < 30, seconds


def test_verbose_shows_the_traceback_too(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    completed, _ = _run(
        ["--verbose", "ingest", "otel", "--data-dir", str(tmp_path), "--input", str(missing)],
        tmp_path,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback (most recent call last)" in completed.stderr
    assert (
        completed.stderr.strip().splitlines()[-1].startswith(f"--input: the OTel input {missing}")
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/landing/part-0.parquet"),
            f"/data/landing/part-0.parquet: {os.strerror(errno.ENOSPC)}",
            id="disk full",
        ),
        pytest.param(
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/state"),
            f"/data/state: {os.strerror(errno.EACCES)}",
            id="permission",
        ),
        pytest.param(
            IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/in", None, "/out"),
            f"/in -> /out: {os.strerror(errno.EISDIR)}",
            id="two paths",
        ),
    ],
)
def test_a_file_error_is_one_line_naming_the_path(
    error: OSError, expected: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli._options, "verbose", False)
    assert cli._report_error(error) == 1
    assert capsys.readouterr().err.strip() == expected


def test_a_bug_keeps_its_traceback(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli._options, "verbose", False)
    try:
        {}["missing"]
    except KeyError as error:
        status = cli._report_error(error)
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("unexpected error (KeyError)")
