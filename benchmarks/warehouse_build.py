"""Benchmark the dbt warehouse on ~10 M OTel events: full, incremental and no-op builds, BI queries.

    .venv/bin/python -m benchmarks.warehouse_build --events 10000000 --users 1000 \
        --base-users 100 --days 30 --data-dir /tmp/wh-bench [--keep] [--reuse] [--churn 30]

Targets (issue 20, on the 2-core machine, at ~10 M events): full build <= 60 s with a peak
RSS <= 4 GB, incremental build after one new hour <= 12 s, BI-shaped queries on the marts
< 100 ms each; and, with `--churn N`, a build file that stops growing over N incremental
builds that each follow a re-delivery of the last hour.

What it does, all under `--data-dir` (which it owns: it refuses a non-empty folder it did not
create):

1. `base/`: the generator simulates `--base-users` people over `--days` days ending yesterday
   (UTC), `land_otel` lands the collector files and `pull_compliance` pulls the same
   organisation from the local Compliance API emulator: real landed Parquet, exact schema.
2. `warehouse/landing/`: the base landing is replicated in DuckDB N times (N = events / base
   events) with every identifier rewritten per replica (md5/sha256 of value and replica,
   keeping each identifier's shape: UUIDs stay UUIDs, `user_01...` keeps its prefix), so the
   replicas are distinct sessions, prompts, requests and events. People are replicated K times
   (K = users / base users, at most N): replica r belongs to person replica r mod K, so the
   Compliance directory (users, members; groups stay shared) and the OTel identities still
   resolve to each other. `landed_at` is rewritten as an hourly landing would set it (the run
   at :05 after the event's hour) and capped at the cut-off, one hour before the newest event;
   rows after the cut-off (events, metric points, activities) go to `held-back/` instead.
3. Builds into `warehouse/build/`, each timed with the peak RSS of its process tree:
   full (empty warehouse), `--full-refresh`, incremental (the held-back hour copied into the
   landing, `landed_at` = cut-off + 61 min, after every other row) and no-op (nothing new).
   Each is `cowork-analytics build --data-dir` (dbt build, publish, Parquet export); dbt's
   run_results.json gives dbt's own time and the slowest models.
4. BI-shaped queries on `warehouse/serving/warehouse.duckdb` opened read-only: daily active
   users, cost by team and model, p95 latency by model; each cold (fresh connection) and hot
   (5 runs: median and max).

The summary is printed and written to `benchmarks/results/warehouse_build-<events>.json`.
The data dir is removed afterwards unless `--keep` (or `--reuse`, which implies it); `--reuse`
keeps a base and a synthesised landing made with the same parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

import duckdb  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks.otel_landing import _tree_rss_kb  # noqa: E402
from benchmarks.run_facts import run_facts  # noqa: E402
from ingestion.paths import DataLayout  # noqa: E402
from ingestion.sql_text import quote_identifier, quote_literal  # noqa: E402
from warehouse.build import dbt_arguments  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = REPOSITORY_ROOT / "benchmarks" / "results"
LANDING_SCHEMAS = REPOSITORY_ROOT / "dbt_project" / "landing_schemas"
OWNER_MARKER = ".warehouse-bench"
NEW_HOUR_STEM = "part-bench-newhour"
# Issue 20's targets; the full build's peak RSS under the default DuckDB memory limit.
TARGETS = {"full_build": 60.0, "incremental": 12.0, "query_ms": 100.0}
FULL_BUILD_PEAK_RSS_MB = 4096
HOT_RUNS = 5
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A typeid-like identifier (`user_01...`, `claude_chat_01...`): prefix, 16+ letters and digits.
TYPEID_PATTERN = "^([a-z]+_)+[0-9A-Za-z]{16,}$"


@dataclass(frozen=True)
class Dataset:
    """One landed dataset and how its rows are replicated.

    Attributes:
        path: the dataset folder under `landing/` (its partition folders hold the Parquet).
        replicate: "event" (N copies), "identity" (K copies: people) or "none" (copied).
        ids: identifiers rewritten per event replica (sessions, events, requests, ...).
        identity_ids: identifiers of the person, rewritten per identity replica (r mod K).
        emails: e-mail addresses of the person (`local+benchK@domain`).
        json: JSON text holding the identifiers above, rewritten to match.
        time: rows after the cut-off are held back for the incremental step.
        landed: the landing time column, rewritten to an hourly landing schedule.
    """

    path: str
    replicate: str
    ids: tuple[str, ...] = ()
    identity_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    json: tuple[str, ...] = ()
    time: str | None = None
    landed: str | None = None


OTEL_IDENTITY = ("user_account_id", "user_account_uuid", "user_id")
DATASETS = (
    Dataset(
        "otel/events",
        "event",
        ids=(
            "event_id",
            "session_id",
            "prompt_id",
            "request_id",
            "tool_use_id",
            "trace_id",
            "span_id",
            "agent_id",
        ),
        identity_ids=OTEL_IDENTITY,
        emails=("user_email",),
        json=("attributes_json", "resource_json"),
        time="event_at",
        landed="landed_at",
    ),
    Dataset(
        "otel/metrics",
        "event",
        ids=("metric_point_id", "session_id"),
        identity_ids=OTEL_IDENTITY,
        emails=("user_email",),
        json=("attributes_json", "resource_json"),
        time="point_at",
        landed="landed_at",
    ),
    Dataset(
        "compliance/activities",
        "event",
        ids=("activity_id",),
        identity_ids=("actor_user_id",),
        emails=("actor_email_address",),
        json=("actor_json", "details_json"),
        time="created_at",
        landed="landed_at",
    ),
    Dataset("compliance/users", "identity", identity_ids=("id",), emails=("email",)),
    Dataset("compliance/members", "identity", identity_ids=("user_id",), emails=("email",)),
    Dataset(
        "compliance/sessions",
        "event",
        ids=("session_id",),
        identity_ids=("user_id",),
        emails=("user_email",),
    ),
    Dataset(
        "compliance/chats",
        "event",
        ids=("id", "project_id"),
        identity_ids=("user_id",),
        emails=("user_email",),
    ),
    Dataset(
        "compliance/projects",
        "event",
        ids=("id",),
        identity_ids=("user_id",),
        emails=("user_email",),
    ),
    Dataset("compliance/groups", "none"),
    Dataset("compliance/organizations", "none"),
    Dataset("compliance/roles", "none"),
)


@dataclass
class Paths:
    """Everything under the benchmark's data directory."""

    root: Path

    @property
    def base(self) -> Path:
        """The base organisation: simulated files, its landing and manifest."""
        return self.root / "base"

    @property
    def warehouse(self) -> Path:
        """The data directory the builds use (COWORK_DATA_DIR): landing, build, serving."""
        return self.root / "warehouse"

    @property
    def held_back(self) -> Path:
        """The last hour of the synthesised landing, landed by the incremental step."""
        return self.root / "held-back"

    @property
    def dbt_target(self) -> Path:
        """dbt's target path (run_results.json), where `cowork-analytics build` puts it."""
        return DataLayout(self.warehouse).dbt_target

    @property
    def step_logs(self) -> Path:
        """The console output of every timed step."""
        return self.root / "logs"


# --------------------------------------------------------------------------- base landing


def build_base(folder: Path, users: int, days: int, seed: int) -> dict[str, Any]:
    """Generate, land and pull one organisation into `folder` (a DataLayout root).

    Returns:
        The base's parameters and counts (also written to `folder/base.json`).
    """
    from ingestion.anthropic_api.client import RateLimiter
    from ingestion.compliance_api.client import ComplianceClient
    from ingestion.compliance_api.pull import pull_compliance
    from ingestion.otel.land import land_otel
    from ingestion.paths import DataLayout
    from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
    from simulation.generate import generate

    shutil.rmtree(folder, ignore_errors=True)
    layout = DataLayout(folder)
    started = time.perf_counter()
    # Ending yesterday: every event (and its hourly landing time) is in the past.
    end_date = datetime.now(UTC).date() - timedelta(days=1)
    generated = generate(
        layout.simulated,
        seed=seed,
        users=users,
        days=days,
        end_date=end_date,
        rotate_megabytes=100,
    )
    generated_seconds = time.perf_counter() - started
    landed = land_otel([Path(generated.otel_dir)], layout)
    emulator = ComplianceEmulator(EmulatorData.load(layout.simulated / "compliance")).start()
    try:
        client = ComplianceClient(
            "sk-ant-api01-benchmark", emulator.url, limiter=RateLimiter(per_minute=1e6)
        )
        with client:
            pulled = pull_compliance(client, layout, backfill_days=days + 2)
    finally:
        emulator.stop()
    shutil.rmtree(layout.simulated / "otel", ignore_errors=True)  # the JSON is no longer needed
    base = {
        "users": users,
        "days": days,
        "seed": seed,
        "start_date": generated.start_date,
        "end_date": generated.end_date,
        "events_generated": generated.events,
        "events_landed": landed.records_landed,
        "metric_points_landed": landed.metric_points_landed,
        "compliance_records": pulled.records,
        "generate_seconds": round(generated_seconds, 1),
        "land_seconds": round(landed.seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (folder / "base.json").write_text(json.dumps(base, indent=1) + "\n")
    return base


# --------------------------------------------------------------------------- synthesis

MACROS = f"""
create or replace macro bench_id(v, r) as case
    when v is null or r = 0 then v
    when regexp_full_match(v, '{UUID_PATTERN}')
        then cast(cast(md5(v || '#' || r) as uuid) as varchar)
    else regexp_extract(v, '^[A-Za-z_]*_', 0) || left(
        sha256(v || '#' || r), length(v) - length(regexp_extract(v, '^[A-Za-z_]*_', 0))
    )
end;
create or replace macro bench_email(v, r) as case
    when v is null or r = 0 then v
    else regexp_replace(v, '@', '+bench' || r || '@')
end;
"""


def _partitions(root: Path) -> Iterator[tuple[Path, list[Path]]]:
    """Each partition folder of a landed dataset with its Parquet files."""
    if not root.exists():
        return
    for partition in sorted(path for path in root.iterdir() if path.is_dir()):
        files = sorted(partition.glob("*.parquet"))
        if files:
            yield partition, files


def _typeid_prefixes(connection: duckdb.DuckDBPyConnection, landing: Path) -> dict[str, str]:
    """Prefixes of the typeid-like ids the replicas rewrite (`user_` -> identity, ...)."""
    prefixes: dict[str, str] = {}
    for dataset in DATASETS:
        files = [str(f) for _, files in _partitions(landing / dataset.path) for f in files]
        if not files or dataset.replicate == "none":
            continue
        columns = set(pq.read_schema(files[0]).names)
        for kind, names in (("event", dataset.ids), ("identity", dataset.identity_ids)):
            for name in (name for name in names if name in columns):
                rows = connection.execute(
                    f"select distinct regexp_extract({quote_identifier(name)}, '^([a-z]+_)+', 0)"
                    f" from read_parquet(?, union_by_name = true)"
                    f" where regexp_matches({quote_identifier(name)}, ?)",
                    [files, TYPEID_PATTERN],
                ).fetchall()
                for (prefix,) in rows:
                    if prefix:
                        # A person's id must follow the person, whatever else shares its prefix.
                        prefixes[prefix] = (
                            "identity" if kind == "identity" else prefixes.get(prefix, "event")
                        )
    return prefixes


def _select_list(
    dataset: Dataset,
    columns: list[str],
    replica_sql: str,
    identity_sql: str,
    prefixes: dict[str, str],
    cutoff_sql: str,
    held_back: bool,
) -> str:
    """`* exclude (replica) replace (...)` rewriting one dataset's identifiers for a replica."""
    present = set(columns)
    rewritten: dict[str, str] = {}
    for name in (n for n in dataset.ids if n in present):
        rewritten[name] = f"bench_id({quote_identifier(name)}, {replica_sql})"
    for name in (n for n in dataset.identity_ids if n in present):
        rewritten[name] = f"bench_id({quote_identifier(name)}, {identity_sql})"
    for name in (n for n in dataset.emails if n in present):
        rewritten[name] = f"bench_email({quote_identifier(name)}, {identity_sql})"
    replacements = dict(rewritten)
    for name in (n for n in dataset.json if n in present):
        # Typeid-like tokens first (ids of other rows: a chat's project, an activity's
        # session), then this row's own identifiers wherever they appear in the text.
        expression = quote_identifier(name)
        if prefixes:
            alternatives = "|".join(sorted(prefixes))
            identity = [p for p, kind in prefixes.items() if kind == "identity"]
            pick = (
                "case when "
                + " or ".join(f"starts_with(token, {quote_literal(p)})" for p in identity)
                + f" then {identity_sql} else {replica_sql} end"
                if identity
                else replica_sql
            )
            expression = (
                f"list_reduce(list_prepend({expression}, regexp_extract_all({expression},"
                f" '\"((?:{alternatives})[0-9A-Za-z]{{16,}})\"', 1)),"
                f" lambda text, token: replace(text, token, bench_id(token, {pick})))"
            )
        for old, new in rewritten.items():
            expression = (
                f"replace({expression}, coalesce({quote_identifier(old)}, chr(1)),"
                f" coalesce({new}, chr(1)))"
            )
        replacements[name] = (
            f"case when {quote_identifier(name)} is null or {replica_sql} = 0"
            f" then {quote_identifier(name)} else {expression} end"
        )
    if dataset.landed in present and dataset.time in present:
        time_column = quote_identifier(dataset.time)
        replacements[dataset.landed] = (
            f"{cutoff_sql} + interval 61 minute"
            if held_back
            else f"least(date_trunc('hour', {time_column}) + interval 65 minute, {cutoff_sql})"
        )
    if not replacements:
        return "* exclude (replica)"
    items = ", ".join(f"{sql} as {quote_identifier(name)}" for name, sql in replacements.items())
    return f"* exclude (replica) replace ({items})"


def synthesise(
    base_landing: Path,
    landing: Path,
    held_back: Path,
    *,
    replicas: int,
    identities: int,
    cutoff: datetime,
    rows_per_file: int,
    row_group_rows: int,
    scratch: Path,
) -> dict[str, dict[str, int]]:
    """Write the replicated landing (rows up to `cutoff`) and the held-back rows after it.

    Returns:
        Rows and files written per dataset, for the landing and the held-back hour.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"temp_directory": str(scratch), "memory_limit": "4GB"})
    connection.execute(MACROS)
    prefixes = _typeid_prefixes(connection, base_landing)
    cutoff_sql = f"timestamptz {quote_literal(cutoff.isoformat())}"
    counts: dict[str, dict[str, int]] = {}
    for dataset in DATASETS:
        tally = counts.setdefault(
            dataset.path, {"rows": 0, "files": 0, "held_back_rows": 0, "held_back_files": 0}
        )
        for partition, files in _partitions(base_landing / dataset.path):
            if dataset.replicate == "none":
                target = landing / dataset.path / partition.name
                target.mkdir(parents=True, exist_ok=True)
                for file in files:
                    shutil.copy2(file, target / file.name)
                    tally["rows"] += pq.read_metadata(file).num_rows
                    tally["files"] += 1
                continue
            connection.execute(
                "create or replace temp table part as select * from read_parquet(?,"
                " hive_partitioning = false, union_by_name = true)",
                [[str(file) for file in files]],
            )
            columns = [row[0] for row in connection.execute("describe part").fetchall()]
            copies = replicas if dataset.replicate == "event" else identities
            identity_sql = f"replica % {identities}" if dataset.replicate == "event" else "replica"
            timed = dataset.time is not None and dataset.time in columns
            for held in (False, True) if timed else (False,):
                where = (
                    f"where {quote_identifier(dataset.time)} {'>' if held else '<='} {cutoff_sql}"
                    if timed
                    else ""
                )
                rows = connection.execute(f"select count(*) from part {where}").fetchone()[0]
                if not rows:
                    continue
                select = _select_list(
                    dataset, columns, "replica", identity_sql, prefixes, cutoff_sql, held
                )
                order = f"order by {quote_identifier(dataset.time)}" if timed else ""
                per_file = max(1, rows_per_file // rows)
                target = (held_back if held else landing) / dataset.path / partition.name
                target.mkdir(parents=True, exist_ok=True)
                stem = NEW_HOUR_STEM if held else "part-bench"
                for number, first in enumerate(range(0, copies, per_file)):
                    last = min(copies, first + per_file)
                    output = target / f"{stem}-{number:04d}.parquet"
                    connection.execute(
                        f"copy (select {select} from part, range({first}, {last}) as r(replica)"
                        f" {where} {order}) to {quote_literal(str(output))}"
                        f" (format parquet, compression zstd, row_group_size {row_group_rows})"
                    )
                    key = "held_back_" if held else ""
                    tally[f"{key}rows"] += rows * (last - first)
                    tally[f"{key}files"] += 1
    connection.close()
    return counts


def _schema_differences(reference: Path, written: Path) -> list[str]:
    """Columns whose presence or type differs between two Parquet schemas."""
    expected, actual = pq.read_schema(reference), pq.read_schema(written)
    problems = [f"missing {n}" for n in expected.names if n not in actual.names]
    problems += [f"extra {n}" for n in actual.names if n not in expected.names]
    for name in (n for n in expected.names if n in actual.names):
        left, right = expected.field(name).type, actual.field(name).type
        if str(left) != str(right):
            problems.append(f"{name}: {left} != {right}")
    return problems


def check_schemas(base_landing: Path, landing: Path) -> dict[str, list[str]]:
    """Compare written files with the base landing and with dbt's landing schema files."""
    found: dict[str, list[str]] = {}
    for dataset in DATASETS:
        ours = next((f for _, fs in _partitions(landing / dataset.path) for f in fs), None)
        base = next((f for _, fs in _partitions(base_landing / dataset.path) for f in fs), None)
        if ours is None or base is None:
            continue
        problems = _schema_differences(base, ours)
        source, entity = dataset.path.split("/")
        prefix = "otel" if source == "otel" else "compliance_api"
        declared = LANDING_SCHEMAS / f"{prefix}__{entity}.parquet"
        if declared.exists():
            problems += [f"vs {declared.name}: {p}" for p in _schema_differences(declared, ours)]
        if problems:
            found[dataset.path] = problems
    return found


# --------------------------------------------------------------------------- builds


@dataclass
class Step:
    """One timed build."""

    name: str
    command: list[str]
    seconds: float = 0.0
    dbt_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    returncode: int = 0
    ok: bool = True
    statuses: dict[str, int] = field(default_factory=dict)
    node_seconds: dict[str, float] = field(default_factory=dict)  # summed by node kind
    slowest_models: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    log: str = ""


def _run_measured(
    command: list[str], environment: dict[str, str], log: Path
) -> tuple[int, float, float]:
    """Run a command with its output in `log`; (return code, wall seconds, peak tree RSS MB)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    peak = 0
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=REPOSITORY_ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
        while process.poll() is None:
            peak = max(peak, _tree_rss_kb(process.pid))
            time.sleep(0.05)
    return process.returncode, time.perf_counter() - started, peak / 1024


def _run_results(paths: Paths, since: float) -> dict[str, Any] | None:
    """The run_results.json `cowork-analytics build` wrote after `since`, if any."""
    ours = paths.dbt_target / "run_results.json"
    if ours.exists() and ours.stat().st_mtime >= since:
        return json.loads(ours.read_text())
    return None


def _read_run_results(step: Step, results: dict[str, Any] | None) -> None:
    if results is None:
        step.failures.append("no run_results.json found for this run")
        return
    step.dbt_seconds = round(results.get("elapsed_time", 0.0), 2)
    models = []
    for node in results.get("results", []):
        status = str(node.get("status"))
        step.statuses[status] = step.statuses.get(status, 0) + 1
        kind = node["unique_id"].split(".")[0]
        step.node_seconds[kind] = round(
            step.node_seconds.get(kind, 0.0) + node.get("execution_time", 0.0), 2
        )
        if status in ("error", "fail", "runtime error"):
            message = (node.get("message") or "").strip().splitlines()
            step.failures.append(f"{node['unique_id']}: {message[0] if message else status}")
        if node["unique_id"].startswith("model."):
            models.append(
                {
                    "model": node["unique_id"].split(".")[-1],
                    "seconds": round(node.get("execution_time", 0.0), 2),
                    "status": status,
                }
            )
    step.slowest_models = sorted(models, key=lambda m: -m["seconds"])[:10]


def run_build(
    name: str, paths: Paths, environment: dict[str, str], *, full_refresh: bool = False
) -> Step:
    """One timed `cowork-analytics build` (dbt build, publish, Parquet export)."""
    command = [str(BIN / "cowork-analytics"), "build", "--data-dir", str(paths.warehouse)]
    command += ["--full-refresh"] if full_refresh else []
    step = Step(name, command)
    log = paths.step_logs / f"{name}.log"
    step.log = str(log)
    since = time.time() - 1
    step.returncode, seconds, peak_rss_mb = _run_measured(command, environment, log)
    step.peak_rss_mb = round(peak_rss_mb)
    _read_run_results(step, _run_results(paths, since))
    step.seconds = round(seconds, 2)
    step.ok = step.returncode == 0 and not step.failures
    return step


# --------------------------------------------------------------------------- BI queries


# Dashboard-shaped queries against the marts' contracts (dbt_project/models/marts/*/_*.yml).
BI_QUERIES = {
    "daily_active_users": "select activity_date, count(distinct user_key) as active_users"
    " from marts.fct_user_daily_activity group by 1 order by 1",
    "cost_by_team_and_model": "select coalesce(team_name, '(no team)') as team, model,"
    " sum(cost_usd) as cost_usd from marts.fct_cost_daily group by 1, 2 order by 3 desc",
    "p95_latency_by_model": "select model, quantile_cont(duration_ms, 0.95) as p95_ms,"
    " count(*) as requests from marts.fct_api_requests group by 1 order by 2 desc",
}


def run_queries(serving: Path) -> list[dict[str, Any]]:
    """Each BI query cold (fresh read-only connection) then hot (median and max of 5)."""
    outcomes = []
    for name, sql in BI_QUERIES.items():
        outcome: dict[str, Any] = {"name": name}
        try:
            started = time.perf_counter()
            connection = duckdb.connect(str(serving), read_only=True)
            connected = time.perf_counter()
            rows = connection.execute(sql).fetchall()
            cold = time.perf_counter() - connected
            hot = []
            for _ in range(HOT_RUNS):
                began = time.perf_counter()
                connection.execute(sql).fetchall()
                hot.append(time.perf_counter() - began)
            connection.close()
        except duckdb.Error as error:
            outcome["error"] = str(error).splitlines()[0]
            outcomes.append(outcome)
            continue
        outcome.update(
            {
                "sql": sql,
                "rows": len(rows),
                "connect_ms": round((connected - started) * 1000, 1),
                "cold_ms": round(cold * 1000, 1),
                "hot_median_ms": round(statistics.median(hot) * 1000, 1),
                "hot_max_ms": round(max(hot) * 1000, 1),
            }
        )
        outcome["meets_target"] = max(cold, *hot) * 1000 < TARGETS["query_ms"]
        outcomes.append(outcome)
    return outcomes


# --------------------------------------------------------------------------- main


def _prepare_data_dir(paths: Paths, reuse: bool) -> None:
    """Own the data dir: refuse a non-empty folder this benchmark did not create."""
    root = paths.root
    if root.exists() and any(root.iterdir()) and not (root / OWNER_MARKER).exists():
        raise SystemExit(f"{root} is not empty and was not made by this benchmark; pick another")
    if not reuse:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / OWNER_MARKER).touch()


def _reset_warehouse(paths: Paths) -> None:
    """Forget every build and the landed new hour, keeping the synthesised landing."""
    for folder in ("build", "serving"):
        shutil.rmtree(paths.warehouse / folder, ignore_errors=True)
    for leftover in (paths.warehouse / "landing").rglob(f"{NEW_HOUR_STEM}-*.parquet"):
        leftover.unlink()


def _land_new_hour(paths: Paths, again: tuple[int, datetime] | None = None) -> int:
    """Copy the held-back hour into the landing, as an hourly landing run would add it.

    With `again` (round, landing time), land it once more as new files landed then: a
    collector that re-sends its last hour (a retry after a lost acknowledgement) gives the
    same events again. Staging deduplicates them, but every incremental model rebuilds the
    days they touch, so the build file sees a delete and an insert of those rows each time.
    """
    copied = 0
    with duckdb.connect() as connection:
        for file in paths.held_back.rglob("*.parquet"):
            target = paths.warehouse / file.relative_to(paths.held_back)
            target.parent.mkdir(parents=True, exist_ok=True)
            if again is None:
                shutil.copy2(file, target)
            else:
                round_number, landed_at = again
                target = target.with_name(f"{NEW_HOUR_STEM}-again{round_number:02d}-{target.name}")
                landed = f"timestamptz {quote_literal(landed_at.isoformat())} as landed_at"
                has_landed_at = "landed_at" in pq.read_schema(file).names
                replace = f"replace ({landed})" if has_landed_at else ""
                connection.execute(
                    f"copy (select * {replace} from read_parquet({quote_literal(str(file))}))"
                    f" to {quote_literal(str(target))} (format parquet, compression zstd)"
                )
            copied += 1
    return copied


def run_churn(
    paths: Paths, environment: dict[str, str], rounds: int, first_landed_at: datetime
) -> list[dict[str, Any]]:
    """`rounds` incremental builds, each after a re-delivery of the last hour: the size of
    the build and serving files after each (do they grow without bound?)."""
    sizes = []
    for number in range(1, rounds + 1):
        _land_new_hour(paths, again=(number, first_landed_at + timedelta(hours=number)))
        step = run_build(f"churn-{number:02d}", paths, environment)
        layout = DataLayout(paths.warehouse)
        build, serving = layout.build_database, layout.serving_database
        sizes.append(
            {
                "round": number,
                "ok": step.ok,
                "seconds": step.seconds,
                "peak_rss_mb": step.peak_rss_mb,
                "build_mb": round(build.stat().st_size / 2**20, 1),
                "serving_mb": round(serving.stat().st_size / 2**20, 1),
            }
        )
        print(
            f"  churn {number:2d}: {step.seconds:6.1f} s, build file {sizes[-1]['build_mb']} MB,"
            f" serving {sizes[-1]['serving_mb']} MB{'' if step.ok else ' FAILED'}"
        )
    return sizes


def _label(events: int) -> str:
    if events >= 1_000_000 and events % 1_000_000 == 0:
        return f"{events // 1_000_000}M"
    if events >= 1000 and events % 1000 == 0:
        return f"{events // 1000}k"
    return str(events)


def _print_summary(report: dict[str, Any]) -> None:
    scale = report["scale"]
    print(
        f"\nWarehouse build benchmark: {scale['events']:,} OTel events"
        f" ({scale['people']:,} people x {report['base']['days']} days;"
        f" base {report['base']['events_landed']:,} events x {scale['replicas']} replicas),"
        f" {report['machine']}"
    )
    print(
        f"base (generate + land + pull): {report['base']['seconds']} s;"
        f" synthesis: {report['synthesis_seconds']} s;"
        f" new hour: {scale['new_hour_events']:,} events after {scale['cutoff']}"
    )
    print(
        "\n| step | wall s | dbt elapsed s | outside dbt s | model s | test s | peak RSS MB"
        " | dbt statuses | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for step in report["steps"]:
        target = TARGETS.get(step["name"])
        verdict = ""
        if target is not None:
            verdict = f"<= {target:g} s " + ("ok" if step["seconds"] <= target else "MISSED")
        if step["name"] == "full_build":
            rss_ok = step["peak_rss_mb"] <= FULL_BUILD_PEAK_RSS_MB
            verdict += f"; RSS <= {FULL_BUILD_PEAK_RSS_MB} MB " + ("ok" if rss_ok else "MISSED")
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(step["statuses"].items()))
        kinds = step["node_seconds"]
        tests = round(kinds.get("test", 0.0) + kinds.get("unit_test", 0.0), 2)
        print(
            f"| {step['name']} | {step['seconds']} | {step['dbt_seconds']} |"
            f" {round(step['seconds'] - step['dbt_seconds'], 2)} | {kinds.get('model', 0.0)} |"
            f" {tests} |"
            f" {step['peak_rss_mb']} | {statuses} | {verdict} |"
        )
    for step in report["steps"]:
        if step["name"] not in ("full_build", "incremental"):
            continue
        print(f"\nslowest models, {step['name']}:")
        for model in step["slowest_models"]:
            print(f"  {model['seconds']:8.2f} s  {model['model']} ({model['status']})")
    print("\n| query | cold ms | hot median ms | hot max ms | rows | < 100 ms |")
    print("|---|---|---|---|---|---|")
    for query in report["queries"]:
        if "error" in query:
            print(f"| {query['name']} | skipped: {query['error']} | | | | |")
            continue
        verdict = "ok" if query["meets_target"] else "NO"
        print(
            f"| {query['name']} | {query['cold_ms']} | {query['hot_median_ms']} |"
            f" {query['hot_max_ms']} | {query['rows']} | {verdict} |"
        )
    churn = report.get("churn") or []
    if churn:
        first, last = churn[0], churn[-1]
        print(
            f"\nchurn, {len(churn)} incremental builds after re-deliveries:"
            f" build file {first['build_mb']} -> {last['build_mb']} MB, serving file"
            f" {first['serving_mb']} -> {last['serving_mb']} MB; seconds median"
            f" {statistics.median(round_['seconds'] for round_ in churn):.1f},"
            f" peak RSS max {max(round_['peak_rss_mb'] for round_ in churn)} MB"
        )
    for step in report["steps"]:
        if step["failures"]:
            print(f"\n{step['name']} failures (log: {step['log']}):")
            for failure in step["failures"][:10]:
                print(f"  {failure}")
    for dataset, problems in report["schema_differences"].items():
        print(f"\nschema differences in {dataset}: {'; '.join(problems)}")


def main() -> None:
    """Parse arguments, synthesise the landing, time the builds and the queries."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="OTel events to build")
    parser.add_argument("--users", type=int, default=1000, help="people after replication")
    parser.add_argument("--base-users", type=int, default=100, help="people generated")
    parser.add_argument("--days", type=int, default=30, help="days generated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/wh-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a kept base and landing (implies --keep)"
    )
    parser.add_argument("--no-full-refresh", action="store_true", help="skip the --full-refresh")
    parser.add_argument(
        "--churn",
        type=int,
        default=0,
        help="incremental builds after the no-op, each after a re-delivery of the last hour,"
        " with the build file's size after each",
    )
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    parser.add_argument("--row-group-rows", type=int, default=122_880)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    paths = Paths(args.data_dir.expanduser().resolve())
    _prepare_data_dir(paths, args.reuse)
    base_marker = paths.base / "base.json"
    wanted_base = {"users": args.base_users, "days": args.days, "seed": args.seed}
    base = json.loads(base_marker.read_text()) if base_marker.exists() else None
    if not args.reuse or base is None or any(base.get(k) != v for k, v in wanted_base.items()):
        print(f"Generating and landing {args.base_users} people x {args.days} days ...")
        base = build_base(paths.base, args.base_users, args.days, args.seed)
    base_landing = paths.base / "landing"

    replicas = max(1, round(args.events / max(1, base["events_landed"])))
    identities = min(replicas, max(1, round(args.users / args.base_users)))
    connection = duckdb.connect()
    newest = connection.execute(
        "select max(event_at) from read_parquet(?, hive_partitioning = false)",
        [str(base_landing / "otel" / "events" / "*" / "*.parquet")],
    ).fetchone()[0]
    connection.close()
    cutoff = newest - timedelta(hours=1)
    wanted_scale = {
        "base": wanted_base,
        "replicas": replicas,
        "identities": identities,
        "rows_per_file": args.rows_per_file,
        "row_group_rows": args.row_group_rows,
        "cutoff": cutoff.isoformat(),
    }
    scale_marker = paths.root / "synthesis.json"
    synthesis = json.loads(scale_marker.read_text()) if scale_marker.exists() else None
    if args.reuse and synthesis is not None and synthesis.get("parameters") == wanted_scale:
        print("Reusing the synthesised landing.")
        _reset_warehouse(paths)
    else:
        print(f"Synthesising {replicas} replicas ({identities} of each person) ...")
        for folder in (paths.warehouse, paths.held_back):
            shutil.rmtree(folder, ignore_errors=True)
        scale_marker.unlink(missing_ok=True)
        started = time.perf_counter()
        counts = synthesise(
            base_landing,
            paths.warehouse / "landing",
            paths.held_back / "landing",
            replicas=replicas,
            identities=identities,
            cutoff=cutoff,
            rows_per_file=args.rows_per_file,
            row_group_rows=args.row_group_rows,
            scratch=paths.root / "duckdb-tmp",
        )
        synthesis = {
            "parameters": wanted_scale,
            "counts": counts,
            "seconds": round(time.perf_counter() - started, 1),
        }
        scale_marker.write_text(json.dumps(synthesis, indent=1) + "\n")
    shutil.rmtree(paths.root / "duckdb-tmp", ignore_errors=True)
    (paths.warehouse / "build").mkdir(parents=True, exist_ok=True)
    schema_differences = check_schemas(base_landing, paths.warehouse / "landing")

    environment = {
        **os.environ,
        "COWORK_DATA_DIR": str(paths.warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    # Parse once, untimed, so every timed build starts from dbt's partial-parse state.
    parse_seconds = _run_measured(
        [str(BIN / "dbt"), *dbt_arguments("parse", DataLayout(paths.warehouse))],
        environment,
        paths.step_logs / "parse.log",
    )[1]

    steps = []
    print("Full build ...")
    steps.append(run_build("full_build", paths, environment))
    if not args.no_full_refresh:
        print("Full refresh ...")
        steps.append(run_build("full_refresh", paths, environment, full_refresh=True))
    new_hour_files = _land_new_hour(paths)
    print(f"Incremental build after the new hour ({new_hour_files} file(s)) ...")
    steps.append(run_build("incremental", paths, environment))
    print("No-op build ...")
    steps.append(run_build("noop", paths, environment))
    queries = run_queries(paths.warehouse / "serving" / "warehouse.duckdb")
    churn = []
    if args.churn:
        print(f"Churn: {args.churn} incremental builds, each after the last hour re-delivered ...")
        churn = run_churn(paths, environment, args.churn, cutoff + timedelta(minutes=61))

    counts = synthesis["counts"]
    events = counts["otel/events"]
    report = {
        **run_facts(),
        "duckdb": duckdb.__version__,
        "targets": TARGETS,
        "base": base,
        "scale": {
            "events": events["rows"] + events["held_back_rows"],
            "events_requested": args.events,
            "people": args.base_users * identities,
            "replicas": replicas,
            "identity_replicas": identities,
            "cutoff": cutoff.isoformat(),
            "new_hour_events": events["held_back_rows"],
            "new_hour_landed_at": (cutoff + timedelta(minutes=61)).isoformat(),
            "landing_bytes": sum(
                f.stat().st_size for f in (paths.warehouse / "landing").rglob("*.parquet")
            ),
            "datasets": counts,
        },
        "synthesis_seconds": synthesis["seconds"],
        "schema_differences": schema_differences,
        "dbt_parse_seconds": round(parse_seconds, 1),
        "steps": [asdict(step) for step in steps],
        "queries": queries,
        "churn": churn,
        "data_dir": str(paths.root) if args.keep or args.reuse else None,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    output = args.results / f"warehouse_build-{_label(args.events)}.json"
    output.write_text(json.dumps(report, indent=1, default=str) + "\n")
    _print_summary(report)
    print(f"\nResults: {output}")
    if not (args.keep or args.reuse):
        shutil.rmtree(paths.root, ignore_errors=True)
    else:
        print(f"Data kept in {paths.root} (rerun with --reuse to skip synthesis)")


if __name__ == "__main__":
    main()
