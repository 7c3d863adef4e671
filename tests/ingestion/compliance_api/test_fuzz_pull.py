"""Property tests: real Compliance API pages, mutated as a broken or hostile server sends them.

Seeds are the generator's records (what the emulator serves). Each example builds pages
for every endpoint a pull reads, mutates records (fields dropped, nulled or of the wrong
type, ids null, timestamps garbage or out of range, unicode oddities down to lone
surrogates escaped in JSON, extra fields, records that are not objects), pages (`data`
that is not a list, bodies that are not JSON) and pagination (repeated cursors and page
tokens), and pulls them through httpx.MockTransport. Invariants:
- the pull ends, with a bounded number of requests, normally or with a AnthropicApiError;
- when it ends normally, records in = landed + quarantined, per entity;
- every quarantine line is JSON naming the endpoint, request, page and reason;
- what landed reads back in DuckDB, and what staging casts (timestamps) and parses (JSON)
  does cast and parse.

The example count is FUZZ_EXAMPLES: a few dozen in the fast tier, `make fuzz` thousands.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.anthropic_api.client import RateLimiter
from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.anthropic_api.paging import PullLimits
from ingestion.compliance_api.client import ComplianceClient
from ingestion.compliance_api.pull import pull_compliance
from ingestion.compliance_api.schemas import SNAPSHOT_KEYS, SNAPSHOT_SCHEMAS
from ingestion.paths import DataLayout
from tests.support.fuzzing import FUZZ_EXAMPLES

PREFIX = "/v1/compliance"
NOW = datetime(2026, 3, 11, tzinfo=UTC)
SEEDS_PER_ENTITY = 3
MAX_REQUESTS = 300  # far above any scenario here: more means the pull looped
ODD_TEXT = [
    "",
    " ",
    "\ud800",  # a lone surrogate: JSON can escape it, UTF-8 cannot hold it
    "x\udfffy",
    "\x00",
    "\u202eevil",
    "e\u0301",
    "😀",
    "null",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-03-10T10:00:00",
    "20260310T100000Z",
    "yesterday",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(ODD_TEXT),
)
VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=5,
)
NOT_OBJECTS = st.one_of(LEAVES, st.lists(LEAVES, max_size=2))


@pytest.fixture(scope="module")
def seeds(emulator_data) -> dict[str, list[dict]]:
    """A few real records of every listing a pull reads."""
    members = [{k: v for k, v in m.items() if k != "group_id"} for m in emulator_data.members]
    listings = {
        "activities": emulator_data.activities,
        "organizations": emulator_data.organizations,
        "users": emulator_data.users,
        "roles": emulator_data.roles,
        "groups": emulator_data.groups,
        "members": members,
        "sessions": emulator_data.sessions_local,
        "chats": emulator_data.chats,
        "projects": emulator_data.projects,
    }
    return {name: records[:SEEDS_PER_ENTITY] for name, records in listings.items()}


@st.composite
def mutated(draw: st.DrawFn, record: dict) -> object:
    """A record with a few fields dropped, replaced or added, or not a record at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(NOT_OBJECTS)
    record = copy.deepcopy(record)
    for _ in range(draw(st.integers(0, 3))):
        fields = sorted(record)
        action = draw(st.sampled_from(["drop", "set", "nested", "add"]))
        if action == "drop" and fields:
            record.pop(draw(st.sampled_from(fields)))
        elif action == "set" and fields:
            record[draw(st.sampled_from(fields))] = draw(VALUES)
        elif action == "nested":
            parent = draw(st.sampled_from(["actor", "user"]))
            if isinstance(record.get(parent), dict) and record[parent]:
                record[parent][draw(st.sampled_from(sorted(record[parent])))] = draw(VALUES)
        else:
            record[draw(st.text(max_size=6))] = draw(VALUES)
    return record


@dataclass
class Listing:
    """The pages one endpoint serves, and how its pagination misbehaves."""

    pages: list[object]  # a page's `data` (any JSON value), or bytes for a non-JSON body
    repeat_at: int | None = None  # this page's cursor repeats an earlier one


def _renamed(record: dict, key: str, suffix: str) -> dict:
    """A copy with a key of its own: a record served twice would land once (deduplicated)."""
    return {**record, key: f"{record.get(key)}-{suffix}"}


@st.composite
def listings(draw: st.DrawFn, seeds: list[dict], key: str, hostile: bool) -> Listing:
    """Up to three pages of mutated records; with `hostile`, bad bodies and repeated cursors."""
    pages = []
    for number in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 9))
        if hostile and kind == 0:
            pages.append(draw(st.sampled_from([b"<html>502</html>", b'{"data": [', b"[]"])))
        elif kind == 1:  # `data` that is not a list of records
            pages.append(draw(NOT_OBJECTS | st.dictionaries(st.text(max_size=4), LEAVES)))
        else:
            records = draw(st.lists(st.sampled_from(seeds), max_size=4)) if seeds else []
            records = [_renamed(r, key, f"{number}.{i}") for i, r in enumerate(records)]
            pages.append([draw(mutated(record)) for record in records])
    repeats = hostile and len(pages) > 1 and draw(st.booleans())
    return Listing(pages, draw(st.integers(1, len(pages) - 1)) if repeats else None)


@dataclass
class FakeApi:
    """Serves the listings by path (sub-listings for any organisation or group)."""

    listings: dict[str, Listing]
    requests: Counter = field(default_factory=Counter)
    served: Counter = field(default_factory=Counter)

    def entity(self, path: str) -> str | None:
        route = path.removeprefix(PREFIX).strip("/").split("/")
        names = {"activities": "activities", "organizations": "organizations"}
        names |= {"groups": "groups", "chats": "chats", "projects": "projects"}
        names |= {"local": "sessions", "users": "users", "roles": "roles", "members": "members"}
        return names.get(route[-1])

    def handle(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[-1] for k, v in parse_qs(urlparse(str(request.url)).query).items()}
        self.requests[(request.url.path, tuple(sorted(query.items())))] += 1
        entity = self.entity(request.url.path)
        listing = self.listings.get(entity)
        cursor = query.get("after_id") or query.get("page")
        number = int(cursor.removeprefix("c")) if cursor and cursor[1:].isdigit() else 0
        if listing is None or number >= len(listing.pages):
            return httpx.Response(200, json={"data": [], "has_more": False})
        data = listing.pages[number]
        if isinstance(data, bytes):
            return httpx.Response(200, content=data, headers={"content-type": "text/html"})
        more = number + 1 < len(listing.pages)
        following = "c0" if listing.repeat_at == number + 1 else f"c{number + 1}"
        body = {"data": data, "has_more": more, "last_id": following if more else None}
        body["next_page"] = following if more else None
        self.served[entity] += 0 if data is None else len(data) if isinstance(data, list) else 1
        return httpx.Response(200, content=json.dumps(body).encode())


def _count(files: str) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{files}')").fetchall()[0][0]


def _check_landed(layout: DataLayout) -> dict[str, int]:
    """Rows landed per entity; fails unless DuckDB reads them the way staging does."""
    landed = {}
    activities = f"{layout.compliance('activities')}/*/*.parquet"
    if list(layout.compliance("activities").glob("*/*.parquet")):
        valid = duckdb.sql(
            f"select bool_and(json_valid(details_json) and json_valid(actor_json))"
            f" from read_parquet('{activities}')"
        ).fetchall()[0][0]
        assert valid
        landed["activities"] = _count(activities)
    for entity, schema in SNAPSHOT_SCHEMAS.items():
        files = f"{layout.compliance(entity)}/*/*.parquet"
        if not list(layout.compliance(entity).glob("*/*.parquet")):
            continue
        times = [name for name in schema.names if name.endswith("_at") and name != "snapshot_at"]
        casts = ", ".join(f"count(cast({name} as timestamptz))" for name in times) or "1"
        duckdb.sql(f"select {casts} from read_parquet('{files}')").fetchall()
        landed[entity] = _count(files)
    return landed


def _check_quarantine(layout: DataLayout) -> Counter:
    """Quarantined records per entity; fails unless every line says where and why."""
    counts: Counter = Counter()
    for path in layout.compliance("quarantine").glob("*/*.jsonl"):
        assert path.stat().st_mode & 0o077 == 0
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            assert entry["endpoint"].startswith(PREFIX) and entry["reason"]
            assert entry["page"] >= 1 and isinstance(entry["params"], dict)
            counts[entry["entity"]] += 1
    return counts


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_pages_are_landed_or_quarantined_and_the_pull_ends(
    seeds: dict[str, list[dict]], data: st.DataObject
) -> None:
    keys = {"activities": "id", **SNAPSHOT_KEYS}
    # Mostly well-paged listings of bad records (so the counts are checked), sometimes a
    # server whose paging itself is hostile (so the pull must stop with a clear error).
    hostile = data.draw(st.integers(0, 3), label="hostile paging") == 0
    fake = FakeApi(
        {name: data.draw(listings(seeds[name], keys[name], hostile), label=name) for name in seeds}
    )
    client = ComplianceClient(
        "sk-ant-api01-fuzz-key",
        "https://api.example",
        backoff_base=0.0,
        backoff_cap=0.0,
        limiter=RateLimiter(per_minute=10**9, burst=10**6),
        transport=httpx.MockTransport(fake.handle),
    )
    with tempfile.TemporaryDirectory() as root, client:
        layout = DataLayout(Path(root))
        try:
            summary = pull_compliance(client, layout, now=NOW, limits=PullLimits(max_pages=50))
        except AnthropicApiError as error:
            assert "\n" not in str(error) and str(error).startswith("GET /v1/compliance/")
            summary = None
        assert sum(fake.requests.values()) <= MAX_REQUESTS
        assert max(fake.requests.values()) <= 3  # a page is asked for again only on a bad body
        landed = _check_landed(layout)
        quarantined = _check_quarantine(layout)
        if summary is None:
            return
        for entity, served in fake.served.items():
            assert landed.get(entity, 0) + quarantined[entity] == served, entity
            assert summary.records.get(entity, 0) == landed.get(entity, 0), entity
            assert summary.quarantined.get(entity, 0) == quarantined[entity], entity
