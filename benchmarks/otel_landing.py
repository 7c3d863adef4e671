"""Benchmark the OTel landing against the naive per-record loop on the same generated files.

    .venv/bin/python benchmarks/otel_landing.py --events 1000000

Generates an organisation big enough for `--events` log records (collector JSON lines,
rotated at 100 MB like the exporter's default), then runs, each in its own process:
`cowork-analytics ingest otel` (the whole landing: parse, pivot, privacy split, Parquet,
manifest) and `benchmarks/naive_landing.py` (json.loads per line, a dict per record,
Table.from_pylist, Parquet). Reports wall time, events/s, MB/s, peak RSS and CPU use.

`--erased N` lands the same files a second time into another data directory whose erasure
register holds N people of the organisation (their e-mails and account ids), so the cost
of dropping forgotten people shows beside the landing with an empty register.
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cowork-bench"))
    parser.add_argument("--results", type=Path, default=REPOSITORY_ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--erased", type=int, default=0, help="also land with this many people forgotten"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(REPOSITORY_ROOT))
    from benchmarks.run_facts import run_facts
    from simulation.generate import generate

    shutil.rmtree(args.workdir, ignore_errors=True)
    days = 14
    users = max(1, round(args.events / days / 30))  # ~31 events per person-day
    generated = generate(
        args.workdir / "generated",
        seed=1,
        users=users,
        days=days,
        end_date=date(2026, 11, 20),
        rotate_megabytes=100,
    )
    otel = Path(generated.otel_dir)
    logs = sorted(otel.glob("logs*.jsonl"))
    log_bytes = sum(path.stat().st_size for path in logs)

    landing = _measure(
        [
            str(BIN / "cowork-analytics"),
            "ingest",
            "otel",
            "--data-dir",
            str(args.workdir / "data"),
            "--input",
            str(otel),
        ],
        sorted(otel.iterdir()),
    )
    naive = _measure(
        [
            sys.executable,
            str(REPOSITORY_ROOT / "benchmarks" / "naive_landing.py"),
            *map(str, logs),
            str(args.workdir / "naive.parquet"),
        ],
        logs,
    )
    naive_result = json.loads(naive["output"])
    events = generated.events

    def row(name: str, measured: dict[str, float]) -> dict[str, float | str]:
        return {
            "approach": name,
            "wall_seconds": round(measured["wall_seconds"], 2),
            "events_per_second": round(events / measured["wall_seconds"]),
            "mb_per_second": round(log_bytes / 1e6 / measured["wall_seconds"], 1),
            "peak_rss_mb": round(measured["peak_rss_mb"]),
            "cpu_utilisation": round(measured["cpu_seconds"] / measured["wall_seconds"], 2),
        }

    parse_only = _measure([sys.executable, "-c", PARSE_ONLY, *map(str, logs)], logs)
    erased_rows = []
    if args.erased:
        erased_landing = _measure(
            [
                str(BIN / "cowork-analytics"),
                "ingest",
                "otel",
                "--data-dir",
                str(_forgotten(args.workdir / "data-erased", generated, args.erased)),
                "--input",
                str(otel),
            ],
            sorted(otel.iterdir()),
        )
        erased_rows = [row(f"ingest otel, {args.erased} people forgotten", erased_landing)]
    rows = [
        row("cowork-analytics ingest otel", landing),
        *erased_rows,
        row("naive json.loads loop", naive),
        row("pyarrow read_json, parse only (ceiling)", parse_only),
    ]
    report = {
        **run_facts(),
        "events": events,
        "naive_records": naive_result["records"],
        "log_files": len(logs),
        "log_megabytes": round(log_bytes / 1e6, 1),
        "generation_events_per_second": round(generated.events_per_second),
        "rows": rows,
        "speedup": round(naive["wall_seconds"] / landing["wall_seconds"], 2),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "otel_landing.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    print()
    print("| approach | wall s | events/s | MB/s | peak RSS MB | CPU (cores busy) |")
    print("|---|---|---|---|---|---|")
    for item in rows:
        cells = [item[key] for key in ("approach", "wall_seconds", "events_per_second")]
        cells += [item[key] for key in ("mb_per_second", "peak_rss_mb", "cpu_utilisation")]
        print(
            "| "
            + " | ".join(f"{cell:,}" if isinstance(cell, int) else str(cell) for cell in cells)
            + " |"
        )
    megabytes = log_bytes / 1e6
    print(f"\n{events:,} events, {megabytes:,.0f} MB of JSON lines; speed-up {report['speedup']}x")


if __name__ == "__main__":
    main()
