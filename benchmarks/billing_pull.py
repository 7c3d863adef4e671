"""Issue 17: the billing pull's 90-day backfill of a 1,000-person organisation, over real HTTP.

    .venv/bin/python benchmarks/billing_pull.py [--users 1000] [--days 90] [--no-legacy]

1. Input: the generator simulates `--users` people over `--days` days ending yesterday (UTC),
   without collector files (`generate(otel=False)`: the billed view reads only
   `ground_truth/` and `compliance/`). It is cached under `--workdir/generated` and reused
   while people, days, seed and end date are the same (the end date moves every day:
   `cowork-analytics ingest billing` has no `--today`, its window ends yesterday).
2. `BillingData.load` derives the billed view, which the billing emulator serves on
   127.0.0.1 with an Admin and a `read:analytics` key, noting every request it answers.
3. `cowork-analytics ingest billing --backfill-days <days>` runs in a subprocess as a user
   would run it (ANTHROPIC_ADMIN_API_KEY, ANTHROPIC_ANALYTICS_API_KEY, ANTHROPIC_BASE_URL,
   COWORK_DATA_DIR), with its real limiter: 58 requests a minute, no burst. Minutes of
   waiting are the correct behaviour, not overhead.
4. Then once more with the beta unavailable (404): the legacy `cost_report` fallback.

Reported per run, as the server saw it: requests per endpoint and status, 429s (0 if the
limiter holds), the most requests in any sliding 60 s (<= 60), server time per request; wall
time and peak RSS of the CLI; rows and day files landed per report; and whether the landed
`cost_totals` equal the billed view's daily totals (the revision served: provisional) to the
last digit. The summary is printed and written to
`benchmarks/results/billing_pull-<users>x<days>.json`.

On the 2-core machine (2026-12-07, 1,000 x 90, 2.86 M simulated events, 150,953 billed
rows, with Enterprise Analytics): beta 192 requests (9 cost, 90 Claude Code, 90 Enterprise
users, 3 summaries) in 223 s wall, 169 s of it waiting on the limiter; legacy 190 (one beta
404, then 6 cost_report for the three windows) in 204 s; no 429; at most 59 requests in a
sliding minute; both land 90 daily totals equal to the billed view's to the last digit.
The emulator derives its billed lines once per revision (the first cost answer takes ~9 s
at this size, later ones milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

import duckdb  # noqa: E402

from benchmarks.run_facts import run_facts  # noqa: E402
from benchmarks.warehouse_build import BIN, RESULTS, _run_measured  # noqa: E402
from configuration.settings import (  # noqa: E402
    ADMIN_API_KEY,
    ANALYTICS_API_KEY,
    ANTHROPIC_BASE_URL,
    DATA_DIR,
)
from ingestion.billing.records import REPORTS  # noqa: E402
from ingestion.paths import DataLayout  # noqa: E402
from simulation.billing import BillingData, usd_of  # noqa: E402
from simulation.billing_emulator import BillingEmulator  # noqa: E402
from simulation.generate import generate  # noqa: E402

ADMIN_KEY = "sk-ant-admin01-benchmark-billing-admin"
ANALYTICS_KEY = "sk-ant-api01-benchmark-billing-analytics"
ANALYTICS_PREFIX = "/v1/organizations/analytics/"
BUDGET_PER_MINUTE = 60  # the Analytics APIs' limit the emulator enforces (§1.5)
REVISION = 0  # the emulator's default: the restated day as a first pull sees it
CLIENT_SUMMARY = re.compile(r"([\d,]+) requests, ([\d,]+) retries, .*?([\d,.]+) s waited")


class RecordingEmulator(BillingEmulator):
    """The billing emulator, noting each request it answers: arrival, path, status, seconds."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.answered: list[tuple[float, str, int, float]] = []
        self._answered_lock = threading.Lock()

    def respond(self, path: str, query: Any, headers: dict[str, str]) -> tuple[int, dict, dict]:
        """Answer as the emulator does, and note the request."""
        arrived = time.monotonic()
        status, body, extra = super().respond(path, query, headers)
        with self._answered_lock:
            self.answered.append((arrived, path, status, time.monotonic() - arrived))
        return status, body, extra


def prepare_input(folder: Path, users: int, days: int, seed: int, end: date) -> dict[str, Any]:
    """The generated organisation in `folder`, made unless a cached one has these parameters.

    Returns:
        Its parameters, size and generation time (also in `folder/input.json`).
    """
    marker = folder / "input.json"
    wanted = {"users": users, "days": days, "seed": seed, "end_date": end.isoformat()}
    if marker.exists():
        cached = json.loads(marker.read_text())
        if cached["parameters"] == wanted:
            return {**cached, "reused": True}
    shutil.rmtree(folder, ignore_errors=True)
    print(f"Generating {users:,} people x {days} days (no collector files) ...", flush=True)
    generated = generate(folder, seed=seed, users=users, days=days, end_date=end, otel=False)
    facts = {
        "parameters": wanted,
        "events": generated.events,
        "total_cost_usd": generated.total_cost_usd,
        "generate_seconds": generated.seconds,
        "bytes": sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()),
    }
    marker.write_text(json.dumps(facts, indent=1) + "\n")
    return {**facts, "reused": False}


def peak_per_minute(moments: list[float]) -> int:
    """The most requests in any sliding 60 s, counted as the emulator does (`now - t < 60`)."""
    ordered = sorted(moments)
    peak = first = 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 60:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def billed_by_day(billing: BillingData, first: date, last: date) -> dict[date, Decimal]:
    """Ground truth: each day's billed cost in the revision served, days without cost left out."""
    nano: dict[date, int] = defaultdict(int)
    for day, *_, billed, provisional in billing.daily_totals():
        if first <= day <= last:
            nano[day] += provisional if REVISION == 0 else billed
    return {day: usd_of(amount) for day, amount in sorted(nano.items()) if amount}


def landed(layout: DataLayout) -> tuple[dict[str, dict[str, int]], dict[date, Decimal]]:
    """Rows and day files landed per report, and the landed `cost_totals` summed by day."""
    reports, totals = {}, {}
    with duckdb.connect() as connection:
        for report in REPORTS:
            files = sorted(layout.billing(report).glob("*/*.parquet"))
            rows = 0
            if files:
                rows = connection.execute(
                    "select count(*) from read_parquet(?)", [[str(file) for file in files]]
                ).fetchone()[0]
            reports[report] = {"rows": rows, "day_files": len(files)}
        files = [str(file) for file in layout.billing("cost_totals").glob("*/*.parquet")]
        if files:
            totals = dict(
                connection.execute(
                    "select cost_date, sum(amount_usd) from read_parquet(?)"
                    " group by cost_date having sum(amount_usd) <> 0 order by cost_date",
                    [files],
                ).fetchall()
            )
    return reports, totals


def run_pull(
    name: str, billing: BillingData, workdir: Path, days: int, today: date, *, beta: bool
) -> dict[str, Any]:
    """One `cowork-analytics ingest billing` against a fresh emulator and data directory."""
    data_dir = workdir / name
    shutil.rmtree(data_dir, ignore_errors=True)
    log = workdir / "logs" / f"{name}.log"
    command = [str(BIN / "cowork-analytics"), "ingest", "billing", "--backfill-days", str(days)]
    emulator = RecordingEmulator(
        billing, admin_api_key=ADMIN_KEY, analytics_api_key=ANALYTICS_KEY, beta_available=beta
    )
    with emulator:
        environment = {
            **os.environ,
            # The CLI of this tree, as the emulator is: the editable install may be another's.
            "PYTHONPATH": str(REPOSITORY_ROOT),
            DATA_DIR: str(data_dir),
            ADMIN_API_KEY: ADMIN_KEY,
            ANALYTICS_API_KEY: ANALYTICS_KEY,
            ANTHROPIC_BASE_URL: emulator.url,
        }
        print(f"{name}: {' '.join(command[1:])} against {emulator.url} ...", flush=True)
        returncode, seconds, peak_rss_mb = _run_measured(command, environment, log)
        answered = sorted(emulator.answered)
    output = log.read_text()
    client = CLIENT_SUMMARY.search(output)
    by_endpoint: dict[str, Counter] = defaultdict(Counter)
    server_seconds: dict[str, list[float]] = defaultdict(list)
    for _, path, status, spent in answered:
        by_endpoint[path][status] += 1
        server_seconds[path].append(spent)
    moments = [arrived for arrived, *_ in answered]
    analytics = [arrived for arrived, path, *_ in answered if path.startswith(ANALYTICS_PREFIX)]
    reports, totals = landed(DataLayout(data_dir))
    last = today - timedelta(days=1)
    expected = billed_by_day(billing, today - timedelta(days=days), last)
    return {
        "name": name,
        "beta_available": beta,
        "returncode": returncode,
        "log": str(log),
        "wall_seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb),
        "first_to_last_request_seconds": round(moments[-1] - moments[0], 1) if moments else 0,
        "requests": len(answered),
        "client_summary": client.group(0) if client else None,
        "endpoints": {
            path: {
                "requests": sum(statuses.values()),
                "statuses": dict(sorted(statuses.items())),
                "server_mean_ms": round(1000 * statistics.mean(server_seconds[path]), 1),
                "server_max_ms": round(1000 * max(server_seconds[path]), 1),
            }
            for path, statuses in sorted(by_endpoint.items())
        },
        "status_429": sum(statuses[429] for statuses in by_endpoint.values()),
        "peak_per_minute": peak_per_minute(moments),
        "peak_per_minute_analytics": peak_per_minute(analytics),
        "reports": reports,
        "days_compared": len(expected),
        "landed_total_usd": f"{sum(totals.values(), Decimal(0)):f}",
        "expected_total_usd": f"{sum(expected.values(), Decimal(0)):f}",
        "totals_equal": totals == expected,
        "days_differing": sorted(
            day.isoformat()
            for day in expected.keys() | totals.keys()
            if expected.get(day) != totals.get(day)
        ),
    }


def print_summary(report: dict[str, Any]) -> None:
    """The figures, as markdown tables."""
    source = report["input"]
    parameters = source["parameters"]
    print(
        f"\nBilling pull benchmark: {parameters['users']:,} people x {parameters['days']} days"
        f" (to {parameters['end_date']}), {source['events']:,} simulated events, billed"
        f" ${source['total_cost_usd']}; {report['machine']}"
    )
    reused = " (cached input reused)" if source["reused"] else ""
    print(
        f"generation (ground truth + compliance, no OTel): {source['generate_seconds']} s,"
        f" {source['bytes'] / 2**20:,.1f} MB{reused}; BillingData.load:"
        f" {report['load_seconds']} s, {report['usage_rows']:,} billed rows"
    )
    for run in report["runs"]:
        print(
            f"\n{run['name']}: wall {run['wall_seconds']} s (first to last request"
            f" {run['first_to_last_request_seconds']} s), peak RSS {run['peak_rss_mb']} MB,"
            f" exit {run['returncode']}; client: {run['client_summary']}"
        )
        print("\n| endpoint | requests | statuses | server mean ms | server max ms |")
        print("|---|---|---|---|---|")
        for path, figures in run["endpoints"].items():
            statuses = ", ".join(f"{code}: {count}" for code, count in figures["statuses"].items())
            print(
                f"| {path} | {figures['requests']} | {statuses} | {figures['server_mean_ms']}"
                f" | {figures['server_max_ms']} |"
            )
        print(f"| all | {run['requests']} | | | |")
        print(
            f"\n429s: {run['status_429']}; most requests in a sliding 60 s:"
            f" {run['peak_per_minute']} (Analytics APIs alone: {run['peak_per_minute_analytics']};"
            f" limit {BUDGET_PER_MINUTE})"
        )
        print("\n| report | rows landed | day files |")
        print("|---|---|---|")
        for name, figures in run["reports"].items():
            print(f"| {name} | {figures['rows']:,} | {figures['day_files']} |")
        verdict = "EQUAL" if run["totals_equal"] else f"DIFFER on {run['days_differing']}"
        print(
            f"\nlanded cost_totals vs billed (revision {REVISION}) by day, {run['days_compared']}"
            f" days: {verdict}; landed ${run['landed_total_usd']}, billed"
            f" ${run['expected_total_usd']}"
        )


def main() -> None:
    """Parse arguments, prepare the input, run the pull(s), print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90, help="days generated and backfilled")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cowork-bench-billing"))
    parser.add_argument("--no-legacy", action="store_true", help="skip the legacy fallback run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    today = datetime.now(UTC).date()  # what the CLI's pull takes for today
    source = prepare_input(
        args.workdir / "generated", args.users, args.days, args.seed, today - timedelta(days=1)
    )
    started = time.perf_counter()
    billing = BillingData.load(args.workdir / "generated")
    load_seconds = round(time.perf_counter() - started, 1)
    runs = [run_pull("beta", billing, args.workdir, args.days, today, beta=True)]
    if not args.no_legacy:
        runs.append(run_pull("legacy", billing, args.workdir, args.days, today, beta=False))
    if datetime.now(UTC).date() != today:
        print("warning: the UTC day changed during the run; the CLI's window moved with it")
    report = {
        **run_facts(),
        "input": source,
        "load_seconds": load_seconds,
        "usage_rows": len(billing.usage),
        "runs": runs,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    output = args.results / f"billing_pull-{args.users}x{args.days}.json"
    output.write_text(json.dumps(report, indent=1) + "\n")
    print_summary(report)
    print(f"\nResults: {output}")
    if any(
        run["returncode"]
        or not run["totals_equal"]
        or run["status_429"]
        or run["peak_per_minute"] > BUDGET_PER_MINUTE
        for run in runs
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
