"""Benchmark what Dagster adds (D6, PB8): code-location load, and a run vs a plain build.

    .venv/bin/python benchmarks/dagster_overhead.py --data-dir /tmp/dagster-bench \
        [--repeat 3] [--users 50 --days 14] [--no-cold] [--keep] [--reuse]

Targets (issue 20, tighter than reliability.md's PB8 after dagster#22709): the code
location loads in <= 5 s with a prepared manifest, and a no-op pipeline run costs <= 20 %
more than a no-op plain build of the same data (<= 1.2x, medians of alternated runs).

1. Load, each in a fresh interpreter, `--repeat` times:
   - `load (warm)`: import `orchestration.definitions` and resolve the repository (every
     asset, check, job, schedule and sensor), with target/manifest.json present and up to
     date (one untimed load first refreshes a stale one, as any load would);
   - `load (cold)`: the same in a copy of the repository with no target/ (a fresh clone:
     the load runs `dbt parse` first). The copy leaves the shared target/ alone;
   - `dagster definitions validate`: the CLI path `dagster dev` and CI take (warm).
2. Per-run overhead on the data of `cowork-analytics demo --data-dir` (`--users` people x
   `--days` days, made once; `--reuse` keeps it): with nothing new landed (a no-op
   incremental run), `cowork-analytics build` (dbt build, publish, Parquet export) and
   `cowork-analytics run` (the Dagster pipeline job in process: the OTel landing, the same
   dbt build as dbt assets, publish) alternate, `--repeat` times each. Without a Compliance
   key the job leaves the Compliance pulls out, so both do the same work besides Dagster.

The table is printed and written to `benchmarks/results/dagster_overhead.json` (each
command's output to `dagster_overhead-logs/` beside it). The data dir is removed afterwards
unless `--keep` or `--reuse`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from benchmarks.run_facts import run_facts  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = REPOSITORY_ROOT / "benchmarks" / "results"
OWNER_MARKER = ".dagster-overhead-bench"
TARGETS = {"load_seconds": 5.0, "run_overhead": 0.20}
# Import the code location and resolve everything a code server serves.
LOAD = """
import json, time
started = time.perf_counter()
from orchestration.definitions import defs
imported = time.perf_counter()
repository = defs.get_repository_def()
jobs = repository.get_all_jobs()
graph = repository.asset_graph
keys = graph.get_all_asset_keys()
checks = graph.asset_check_keys
resolved = time.perf_counter()
print(json.dumps({"import": imported - started, "resolve": resolved - imported,
                  "assets": len(keys), "checks": len(checks), "jobs": len(jobs)}))
"""
# What a copy for the cold load leaves out: never needed to load, or per checkout.
NOT_COPIED = (
    ".venv",
    ".git",
    ".tools",
    "data",
    "target",
    "logs",
    "dbt_packages",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)


def _environment(data_dir: Path) -> dict[str, str]:
    """The environment of every timed command: this data dir, its own Dagster home."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ANTHROPIC_COMPLIANCE_API_KEY", "COWORK_OTEL_DIR", "DAGSTER_HOME")
    }
    return environment | {
        "COWORK_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "COLUMNS": "200",  # rich wraps the CLI's summary lines at the terminal width
    }


def _timed(
    command: list[str], environment: dict[str, str], cwd: Path, log: Path
) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command; (wall seconds, the completed process). Its output also goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    log.write_text(f"$ {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed ({completed.returncode}); see {log}")
    return seconds, completed


def _summary(name: str, seconds: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "runs": len(seconds),
        "median": round(statistics.median(seconds), 2),
        "min": round(min(seconds), 2),
        "max": round(max(seconds), 2),
        "seconds": [round(s, 2) for s in seconds],
        **extra,
    }


def measure_load(
    name: str, cwd: Path, environment: dict[str, str], repeat: int, logs: Path, cold: bool
) -> dict[str, Any]:
    """Load the code location `repeat` times in fresh interpreters (cold: no target/)."""
    walls, inside = [], []
    for attempt in range(repeat):
        if cold:
            shutil.rmtree(cwd / "target", ignore_errors=True)
        seconds, completed = _timed(
            [sys.executable, "-c", LOAD],
            environment,
            cwd,
            logs / f"{name.replace(' ', '_')}-{attempt}.log",
        )
        walls.append(seconds)
        inside.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return _summary(
        name,
        walls,
        import_median=round(statistics.median(i["import"] for i in inside), 2),
        resolve_median=round(statistics.median(i["resolve"] for i in inside), 2),
        assets=inside[-1]["assets"],
        checks=inside[-1]["checks"],
        jobs=inside[-1]["jobs"],
    )


def measure_validate(environment: dict[str, str], repeat: int, logs: Path) -> dict[str, Any]:
    """`dagster definitions validate` from the repository root, `repeat` times."""
    walls = [
        _timed(
            [str(BIN / "dagster"), "definitions", "validate"],
            environment,
            REPOSITORY_ROOT,
            logs / f"validate-{attempt}.log",
        )[0]
        for attempt in range(repeat)
    ]
    return _summary("dagster definitions validate", walls)


def _reported_seconds(pattern: str, output: str) -> float | None:
    found = re.search(pattern, output)
    return float(found.group(1)) if found else None


def measure_runs(
    data_dir: Path, environment: dict[str, str], repeat: int, logs: Path
) -> list[dict[str, Any]]:
    """Alternate `cowork-analytics build` and `run` on the same data, `repeat` times each."""
    cli = str(BIN / "cowork-analytics")
    builds, runs, build_inside, run_inside = [], [], [], []
    for attempt in range(repeat):
        seconds, completed = _timed(
            [cli, "build", "--data-dir", str(data_dir)],
            environment,
            REPOSITORY_ROOT,
            logs / f"build-{attempt}.log",
        )
        builds.append(seconds)
        # "... failed. 12.3 s." : build_warehouse's own time (dbt, publish, export).
        build_inside.append(_reported_seconds(r"failed\.\s+([\d.]+)\s+s\.", completed.stdout))
        seconds, completed = _timed(
            [cli, "run", "--data-dir", str(data_dir)],
            environment,
            REPOSITORY_ROOT,
            logs / f"run-{attempt}.log",
        )
        runs.append(seconds)
        # "Pipeline run <id> succeeded in 25.1 s." : definitions built and the job executed.
        run_inside.append(_reported_seconds(r"succeeded\s+in\s+([\d.]+)\s+s", completed.stdout))

    def _median(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return round(statistics.median(known), 2) if known else None

    return [
        _summary("cowork-analytics build", builds, reported_median=_median(build_inside)),
        _summary("cowork-analytics run", runs, reported_median=_median(run_inside)),
    ]


def _prepare_data_dir(root: Path, reuse: bool) -> None:
    """Own the data dir: refuse a non-empty folder this benchmark did not create."""
    if root.exists() and any(root.iterdir()) and not (root / OWNER_MARKER).exists():
        raise SystemExit(f"{root} is not empty and was not made by this benchmark; pick another")
    if not reuse:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / OWNER_MARKER).touch()


def _prepare_demo(
    data_dir: Path, environment: dict[str, str], args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    """`cowork-analytics demo` once (or reuse one made with the same size)."""
    marker = data_dir / "demo.json"
    wanted = {"users": args.users, "days": args.days, "seed": args.seed}
    if args.reuse and marker.exists() and json.loads(marker.read_text()).get("size") == wanted:
        return json.loads(marker.read_text())
    print(f"Preparing the data: cowork-analytics demo ({args.users} users x {args.days} days) ...")
    seconds, completed = _timed(
        [
            str(BIN / "cowork-analytics"),
            "demo",
            "--data-dir",
            str(data_dir),
            "--users",
            str(args.users),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
        ],
        environment,
        REPOSITORY_ROOT,
        logs / "demo.log",
    )
    events = re.search(r"([\d,]+) events in", completed.stdout)
    demo = {
        "size": wanted,
        "events": int(events.group(1).replace(",", "")) if events else None,
        "seconds": round(seconds, 1),
    }
    marker.write_text(json.dumps(demo) + "\n")
    return demo


def _manifest_nodes() -> dict[str, int]:
    manifest = REPOSITORY_ROOT / "target" / "manifest.json"
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text())["nodes"].values()
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["resource_type"]] = counts.get(node["resource_type"], 0) + 1
    return counts


def _print_summary(report: dict[str, Any]) -> None:
    demo = report["data"]
    events = f" ({demo['events']:,} events)" if demo.get("events") else ""
    versions = report["versions"]
    print(
        f"\nDagster overhead: {report['machine']}, Python {report['python']},"
        f" dagster {versions['dagster']}, dagster-dbt {versions['dagster_dbt']},"
        f" dbt-core {versions['dbt']}; dbt nodes {report['dbt_nodes']};"
        f" data: {demo['size']['users']} users x {demo['size']['days']} days{events}"
    )
    print("\n| measurement | runs | median s | min s | max s | inside s | target |")
    print("|---|---|---|---|---|---|---|")
    for row in report["rows"]:
        inside = ""
        if "import_median" in row:
            inside = f"import {row['import_median']} + resolve {row['resolve_median']}"
        elif row.get("reported_median") is not None:
            inside = str(row["reported_median"])
        target = ""
        if row["name"].startswith("load"):
            limit = TARGETS["load_seconds"]
            target = f"<= {limit:g} s " + ("ok" if row["median"] <= limit else "MISSED")
        print(
            f"| {row['name']} | {row['runs']} | {row['median']} | {row['min']} | {row['max']} |"
            f" {inside} | {target} |"
        )
    overhead = report["run_overhead"]
    verdict = "ok" if overhead["fraction"] <= TARGETS["run_overhead"] else "MISSED"
    print(
        f"\nrun overhead vs build (medians): +{overhead['seconds']} s"
        f" ({overhead['fraction']:+.0%}); target <= {TARGETS['run_overhead']:.0%}: {verdict}"
    )
    load = next(row for row in report["rows"] if row["name"] == "load (warm)")
    print(
        f"code location: {load['assets']} assets, {load['checks']} asset checks,"
        f" {load['jobs']} jobs"
    )


def main() -> None:
    """Parse arguments, prepare the data, time the loads and the runs, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dagster-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each measurement")
    parser.add_argument("--users", type=int, default=50, help="people in the demo data")
    parser.add_argument("--days", type=int, default=14, help="days of the demo data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold (no target/) load")
    parser.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept demo (implies --keep)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    root = args.data_dir.expanduser().resolve()
    _prepare_data_dir(root, args.reuse)
    data_dir, logs = root / "data", args.results / "dagster_overhead-logs"
    environment = _environment(data_dir)
    demo = _prepare_demo(data_dir, environment, args, logs)

    rows = []
    print("Loading the code location (warm) ...")
    first = _timed([sys.executable, "-c", LOAD], environment, REPOSITORY_ROOT, logs / "load.log")
    rows.append(measure_load("load (warm)", REPOSITORY_ROOT, environment, args.repeat, logs, False))
    if not args.no_cold:
        print("Loading the code location (cold, in a copy with no target/) ...")
        with tempfile.TemporaryDirectory(prefix="dagster-cold-") as scratch:
            copy = Path(scratch) / "repository"
            shutil.copytree(REPOSITORY_ROOT, copy, ignore=shutil.ignore_patterns(*NOT_COPIED))
            rows.append(measure_load("load (cold)", copy, environment, args.repeat, logs, True))
    print("dagster definitions validate ...")
    rows.append(measure_validate(environment, args.repeat, logs))
    print("cowork-analytics build and run, alternating ...")
    build, run = measure_runs(data_dir, environment, args.repeat, logs)
    rows += [build, run]

    import dagster
    import dagster_dbt
    from dbt.version import __version__ as dbt_version

    report = {
        **run_facts(),
        "versions": {
            "dagster": dagster.__version__,
            "dagster_dbt": dagster_dbt.__version__,
            "dbt": dbt_version,
        },
        "targets": TARGETS,
        "dbt_nodes": _manifest_nodes(),
        "first_load_seconds": round(first[0], 2),
        "data": demo,
        "rows": rows,
        "run_overhead": {
            "seconds": round(run["median"] - build["median"], 2),
            "fraction": round(run["median"] / build["median"] - 1, 3),
        },
        "data_dir": str(root) if args.keep or args.reuse else None,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    output = args.results / "dagster_overhead.json"
    output.write_text(json.dumps(report, indent=1) + "\n")
    _print_summary(report)
    print(f"\nResults: {output}; command output: {logs}")
    if not (args.keep or args.reuse):
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"Data kept in {root} (rerun with --reuse to skip the demo)")


if __name__ == "__main__":
    main()
