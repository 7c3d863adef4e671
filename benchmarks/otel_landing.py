"""Benchmark the OTel landing against the naive per-record loop, on two record shapes.

    .venv/bin/python benchmarks/otel_landing.py --events 1000000 [--profile]

For each shape, generates one collector JSON-lines file of about `--events` log records:
`generator` (the simulated clients' records: about 1.9 KB and 20 attributes each, a few
records per export line) and `compact` (`generate(compact_records=True)`: about 1.4 KB and
15 attributes, 64 records per export line). Then runs, each in its own process and from the
page cache: `cowork-analytics ingest otel` (the whole landing, start-up included: framing,
parse, pivot, classification, privacy split, Parquet, manifest), the yardstick, the `python`
way of `../shared/tools/baseline_ingest.py` (json.loads per line, a dict per record,
Table.from_pylist, Parquet), and pyarrow's threaded JSON reader alone (the parse-only
ceiling). Reports wall time, events/s, MB/s, peak RSS of the process tree, CPU use, and the
ratio landing / yardstick per shape (target: 5x, goal 8x).

`--profile` lands each file twice more: once printing the CPU per event of each stage
(`LandingSummary.stage_cpu_seconds`: process CPU of the workers, Arrow's and DuckDB's
threads included, and the main thread's), once under py-spy (a sampling profiler, 250 Hz,
worker processes included) for the hottest functions of the landing's own code. py-spy
sees Python threads only: Arrow's JSON parser and DuckDB run on native threads, so the
stage table, not py-spy, says where the CPU goes.

`--erased N` lands the same files a second time into another data directory whose erasure
register holds N people of the organisation (their e-mails and account ids), so the cost
of dropping forgotten people shows beside the landing with an empty register.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The ceiling for a library parser here: pyarrow's threaded JSON reader, explicit schema,
# 16 MB blocks, nothing else (performance-notes.md).
PARSE_ONLY = """
import sys
import pyarrow as pa
import pyarrow.json as pj
from ingestion.otel.schema import OTLP_LINE
parse = pj.ParseOptions(explicit_schema=OTLP_LINE, unexpected_field_behavior="ignore")
read = pj.ReadOptions(block_size=16 << 20)
for name in sys.argv[1:]:
    with open(name, "rb") as handle:
        pj.read_json(handle, read_options=read, parse_options=parse)
"""


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (worker processes included)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(
                    (int(line.split()[1]) for line in status if line.startswith("VmRSS")), 0
                )
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _warm(paths: list[Path]) -> None:
    """Read the inputs once so that every approach starts from the page cache, not the disk."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(64 << 20):
                pass


def _measure(command: list[str], inputs: list[Path]) -> dict[str, float]:
    """Run a command; wall seconds, peak RSS of its whole process tree (MB), CPU seconds."""
    _warm(inputs)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        process = subprocess.Popen(
            command, cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, stderr=sink
        )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kb(process.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    output = process.stdout.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed with exit code {process.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": wall, "peak_rss_mb": peak / 1024, "cpu_seconds": cpu, "output": output}


def _forgotten(data_dir: Path, generated, people: int) -> Path:
    """A data directory whose erasure register holds the first `people` of the organisation."""
    import csv

    from ingestion.erasure_register import STRONG, add_to_register
    from ingestion.paths import DataLayout

    with (Path(generated.output_dir) / "ground_truth" / "users.csv").open() as handle:
        users = list(csv.DictReader(handle))[:people]
    identifiers = [user["user_email"] for user in users] + [u["user_account_id"] for u in users]
    add_to_register(DataLayout(data_dir), {STRONG: identifiers})
    return data_dir


YARDSTICK = REPOSITORY_ROOT.parent / "shared" / "tools" / "baseline_ingest.py"
PROFILE_HZ = 250
OUR_CODE = re.compile(r"\((?:.*/)?(?:ingestion|configuration|governance|cowork_analytics)/")
# The landing in a process of its own, printing its per-stage CPU (LandingSummary).
STAGE_CPU = """
import json, sys
from pathlib import Path
from ingestion.otel.land import land_otel
from ingestion.paths import DataLayout
summary = land_otel([Path(sys.argv[2])], DataLayout(Path(sys.argv[1])))
print(json.dumps(summary.stage_cpu_seconds))
"""


def _hot_functions(samples_file: Path, events: int, top: int = 12) -> list[dict]:
    """The landing's own functions that py-spy saw running most (the deepest frame of the
    repository's code in each sample), in CPU microseconds per event."""
    counts: dict[str, int] = {}
    for line in samples_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # py-spy names files relative to the working directory (the repository).
        ours = [frame for frame in stack.split(";") if OUR_CODE.search(frame)]
        if ours:
            name = ours[-1].replace(str(REPOSITORY_ROOT) + "/", "")
            counts[name] = counts.get(name, 0) + int(count)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
    return [
        {"function": name, "us_per_event": round(count / PROFILE_HZ / events * 1e6, 2)}
        for name, count in ranked
    ]


def _profile(workdir: Path, otel: Path, events: int) -> dict:
    """Per-stage CPU (the landing's own accounting) and py-spy's hottest functions."""
    inputs = sorted(otel.iterdir())
    _warm(inputs)
    measured = subprocess.run(
        [sys.executable, "-c", STAGE_CPU, str(workdir / "data-stages"), str(otel)],
        cwd=REPOSITORY_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    stages = json.loads(measured.stdout.strip().splitlines()[-1])
    total = sum(stages.values()) or 1.0
    _warm(inputs)
    samples = workdir / "py-spy.txt"
    subprocess.run(
        [
            *(str(BIN / "py-spy"), "record", "--subprocesses", "--rate", str(PROFILE_HZ)),
            *("--format", "raw", "--output", str(samples), "--"),
            *_ingest_command(workdir / "data-profiled", otel),
        ],
        cwd=REPOSITORY_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {
        "stages": {
            stage: {
                "cpu_us_per_event": round(seconds / events * 1e6, 2),
                "share": round(seconds / total, 3),
            }
            for stage, seconds in sorted(stages.items(), key=lambda item: -item[1])
        },
        "hot_functions": _hot_functions(samples, events),
    }


def _ingest_command(data_dir: Path, otel: Path) -> list[str]:
    return [
        str(BIN / "cowork-analytics"),
        "ingest",
        "otel",
        "--data-dir",
        str(data_dir),
        "--input",
        str(otel),
    ]


def _bench_shape(shape: str, args: argparse.Namespace) -> dict:
    """Generate one shape's file and measure every approach on it."""
    from simulation.generate import generate

    workdir = args.workdir / shape
    shutil.rmtree(workdir, ignore_errors=True)
    days = 14
    users = max(1, round(args.events / days / 30))  # ~31 events per person-day
    generated = generate(
        workdir / "generated",
        seed=1,
        users=users,
        days=days,
        end_date=date(2026, 11, 20),
        rotate_megabytes=1_000_000,  # one file, as the yardstick reads
        compact_records=shape == "compact",
    )
    otel = Path(generated.otel_dir)
    logs = sorted(otel.glob("logs*.jsonl"))
    log_bytes = sum(path.stat().st_size for path in logs)
    events = generated.events

    landing = _measure(_ingest_command(workdir / "data", otel), sorted(otel.iterdir()))
    yardstick = _measure(
        [sys.executable, str(YARDSTICK), "python", str(logs[0]), str(workdir / "naive.parquet")],
        logs,
    )
    parse_only = _measure([sys.executable, "-c", PARSE_ONLY, *map(str, logs)], logs)

    def row(name: str, measured: dict[str, float]) -> dict[str, float | str]:
        return {
            "approach": name,
            "wall_seconds": round(measured["wall_seconds"], 2),
            "events_per_second": round(events / measured["wall_seconds"]),
            "mb_per_second": round(log_bytes / 1e6 / measured["wall_seconds"], 1),
            "peak_rss_mb": round(measured["peak_rss_mb"]),
            "cpu_utilisation": round(measured["cpu_seconds"] / measured["wall_seconds"], 2),
        }

    rows = [row("cowork-analytics ingest otel", landing)]
    if args.erased:
        data_dir = _forgotten(workdir / "data-erased", generated, args.erased)
        erased = _measure(_ingest_command(data_dir, otel), sorted(otel.iterdir()))
        rows.append(row(f"ingest otel, {args.erased} people forgotten", erased))
    rows += [
        row("baseline_ingest.py python (yardstick)", yardstick),
        row("pyarrow read_json, parse only (ceiling)", parse_only),
    ]
    report = {
        "shape": shape,
        "events": events,
        "log_megabytes": round(log_bytes / 1e6, 1),
        "bytes_per_event": round(log_bytes / events),
        "rows": rows,
        "ratio_to_yardstick": round(yardstick["wall_seconds"] / landing["wall_seconds"], 2),
        "ceiling_ratio": round(yardstick["wall_seconds"] / parse_only["wall_seconds"], 2),
    }
    if args.profile:
        report |= _profile(workdir, otel, events)
    return report


def _print_shape(report: dict) -> None:
    print(
        f"\n## {report['shape']}: {report['events']:,} events, {report['log_megabytes']:,.0f} MB"
        f" ({report['bytes_per_event']} B/event)\n"
    )
    print("| approach | wall s | events/s | MB/s | peak RSS MB | CPU (cores busy) |")
    print("|---|---|---|---|---|---|")
    for item in report["rows"]:
        cells = [item[key] for key in ("approach", "wall_seconds", "events_per_second")]
        cells += [item[key] for key in ("mb_per_second", "peak_rss_mb", "cpu_utilisation")]
        print(
            "| "
            + " | ".join(f"{cell:,}" if isinstance(cell, int) else str(cell) for cell in cells)
            + " |"
        )
    print(
        f"\nlanding / yardstick: {report['ratio_to_yardstick']}x"
        f" (parse-only ceiling {report['ceiling_ratio']}x; target 5x, goal 8x)"
    )
    if "stages" in report:
        print("\n| stage | CPU µs/event | share |\n|---|---|---|")
        for stage, figures in report["stages"].items():
            print(f"| {stage} | {figures['cpu_us_per_event']} | {figures['share']:.1%} |")
        print("\n| hottest functions (py-spy, Python frames) | µs/event |\n|---|---|")
        for item in report["hot_functions"]:
            print(f"| {item['function']} | {item['us_per_event']} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shapes", default="generator,compact", help="comma-separated")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cowork-bench"))
    parser.add_argument("--results", type=Path, default=REPOSITORY_ROOT / "benchmarks" / "results")
    parser.add_argument("--profile", action="store_true", help="per-stage CPU with py-spy")
    parser.add_argument(
        "--erased", type=int, default=0, help="also land with this many people forgotten"
    )
    args = parser.parse_args()
    if not YARDSTICK.exists():
        parser.error(f"the yardstick {YARDSTICK} is missing (the shared reference tools)")

    sys.path.insert(0, str(REPOSITORY_ROOT))
    from benchmarks.run_facts import run_facts

    shapes = [_bench_shape(shape, args) for shape in args.shapes.split(",")]
    report = {**run_facts(), "shapes": shapes}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "otel_landing.json").write_text(json.dumps(report, indent=1) + "\n")
    for shape in shapes:
        _print_shape(shape)


if __name__ == "__main__":
    main()
