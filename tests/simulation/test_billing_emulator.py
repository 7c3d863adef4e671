"""The billing emulator over real HTTP: each test names the documented behaviour it checks.

Sections are those of /work/shared/reference/billing-apis.md ("§").
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from simulation.billing import BillingData, usd_of
from simulation.billing_emulator import BETA, BillingEmulator
from simulation.generate import GenerationResult

ADMIN_KEY = "sk-ant-admin01-SENTINEL-admin-7f3a"
ANALYTICS_KEY = "sk-ant-api01-SENTINEL-analytics-9c1d"
VERSION = {"anthropic-version": "2023-06-01"}
COST = "/v1/organizations/analytics/cost"
USAGE = "/v1/organizations/analytics/usage"
COST_REPORT = "/v1/organizations/cost_report"
MESSAGES = "/v1/organizations/usage_report/messages"
CLAUDE_CODE = "/v1/organizations/usage_report/claude_code"
USERS = "/v1/organizations/analytics/users"
SUMMARIES = "/v1/organizations/analytics/summaries"


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def billing(small_org: GenerationResult) -> BillingData:
    return BillingData.load(Path(small_org.output_dir))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(billing: BillingData, clock: Clock) -> Iterator[BillingEmulator]:
    with BillingEmulator(
        billing,
        admin_api_key=ADMIN_KEY,
        analytics_api_key=ANALYTICS_KEY,
        retry_after_seconds=0,
        clock=clock,
    ) as running:
        yield running


def _client(emulator: BillingEmulator, key: str = ADMIN_KEY, beta: bool = True) -> httpx.Client:
    headers = {"x-api-key": key, **VERSION}
    if beta:
        headers["anthropic-beta"] = BETA
    return httpx.Client(base_url=emulator.url, headers=headers, timeout=10)


def _start(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _cents(amount: str) -> Decimal:
    return Decimal(amount) / 100


def _billed(billing: BillingData, revision: int, day: date | None = None) -> Decimal:
    return usd_of(sum(row.cost_nano for row in billing.rows(revision) if day in (None, row.day)))


def _whole_period(billing: BillingData) -> dict[str, str]:
    return {
        "starting_at": _start(billing.start_date),
        "ending_at": _start(billing.watermark + timedelta(days=1)),
    }


def test_beta_cost_is_fractional_cents_that_equal_billed_usd_exactly(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1 fact 2, §1.6: `amount`/`list_amount` are strings in fractional cents, currency USD;
    with no group_by and no bucket width one row covers the whole range."""
    with _client(emulator) as client:
        body = client.get(COST, params=_whole_period(billing)).json()
    (row,) = body["data"]
    assert isinstance(row["cost"]["amount"], str)
    assert len(row["cost"]["amount"].split(".")[1]) >= 6
    assert row["cost"]["currency"] == "USD"
    assert _cents(row["cost"]["amount"]) == _billed(billing, 0)
    assert row["cost"]["requests"] == sum(r.requests for r in billing.rows(0))
    assert row["group"] == {}


def test_legacy_cost_report_amounts_are_cents_with_variable_decimals(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.3: `amount` is a string in cents with variable decimals; summed per day it is the
    billed cost, and `group_by[]=description` fills the parsed fields."""
    params = {**_whole_period(billing), "group_by[]": "description", "limit": 31}
    with _client(emulator) as client:
        body = client.get(COST_REPORT, params=params).json()
    decimals = set()
    for bucket in body["data"]:
        day = date.fromisoformat(bucket["starting_at"][:10])
        results = bucket["results"]
        assert sum(_cents(r["amount"]) for r in results) == _billed(billing, 0, day)
        decimals |= {len(r["amount"].partition(".")[2]) for r in results}
        assert all(r["description"] and r["cost_type"] for r in results)
    assert len(decimals) > 1
    web = [r for b in body["data"] for r in b["results"] if r["cost_type"] == "web_search"]
    assert web and all(r["token_type"] is None for r in web)


def test_ungrouped_totals_are_whole_but_grouped_buckets_keep_only_the_top_100(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1 fact 4, §1.5: grouped buckets keep their top 100 groups with no remainder row, so
    grouped rows must never be summed into totals; the ungrouped row is the total."""
    daily = {**_whole_period(billing), "time_bucket_width": "1d", "limit": 1000}
    grouped = {**daily, "group_by[]": ["actor", "model", "token_type"]}
    with _client(emulator) as client:
        totals = client.get(COST, params=daily).json()["data"]
        rows = client.get(COST, params=grouped).json()["data"]
    per_bucket = defaultdict(list)
    for row in rows:
        per_bucket[row["starting_at"]].append(_cents(row["cost"]["amount"]))
    truncated = 0
    for total in totals:
        day = date.fromisoformat(total["starting_at"][:10])
        assert _cents(total["cost"]["amount"]) == _billed(billing, 0, day)
        amounts = per_bucket[total["starting_at"]]
        assert len(amounts) <= 100
        assert amounts == sorted(amounts, reverse=True)
        if len(amounts) == 100:
            truncated += 1
            assert sum(amounts) < _cents(total["cost"]["amount"])
    assert truncated, "the small organisation should have a day of more than 100 groups"


def test_beta_paging_to_the_end_returns_every_row_once(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.6: `page` / `next_page` cursors, `has_more` false and `next_page` null at the end."""
    params = {**_whole_period(billing), "time_bucket_width": "1d", "group_by[]": ["model"]}
    with _client(emulator) as client:
        everything = client.get(COST, params={**params, "limit": 1000}).json()["data"]
        collected, page = [], None
        while True:
            body = client.get(COST, params={**params, "limit": 3, "page": page or []}).json()
            collected += body["data"]
            page = body["next_page"]
            assert body["has_more"] is (page is not None)
            if page is None:
                break
    assert collected == everything and len(everything) > 3


def test_legacy_paging_counts_empty_buckets_and_ends_with_a_null_token(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.2, §1.3, §1.8: day buckets oldest first, empty buckets included and counted against
    `limit` (default 7), `page_…` tokens that are base64 of a time, `next_page` null at the
    end."""
    first = billing.start_date - timedelta(days=5)
    with _client(emulator) as client:
        body = client.get(COST_REPORT, params={"starting_at": _start(first)}).json()
        assert len(body["data"]) == 7
        assert [b["results"] for b in body["data"][:5]] == [[]] * 5
        token = body["next_page"]
        assert token.startswith("page_") and body["has_more"] is True
        decoded = base64.b64decode(token.removeprefix("page_")).decode()
        assert decoded == _start(first + timedelta(days=7))
        days = [b["starting_at"] for b in body["data"]]
        while body["next_page"]:
            params = {"starting_at": _start(first), "page": body["next_page"]}
            body = client.get(COST_REPORT, params=params).json()
            days += [b["starting_at"] for b in body["data"]]
        assert body["has_more"] is False and body["next_page"] is None
        usage = client.get(MESSAGES, params={"starting_at": _start(first), "limit": 31}).json()
    expected = (billing.watermark - first).days + 1
    assert days == [_start(first + timedelta(days=n)) for n in range(expected)]
    assert len(usage["data"]) == expected
    ungrouped = [r for b in usage["data"] for r in b["results"]]
    assert all(r["model"] is None and r["account_id"] is None for r in ungrouped)


def test_an_expired_cursor_is_410(emulator: BillingEmulator, billing: BillingData, clock) -> None:
    """§1 fact 4, §1.5: cursors expire (410)."""
    params = {**_whole_period(billing), "time_bucket_width": "1d", "limit": 1}
    with _client(emulator) as client:
        token = client.get(COST, params=params).json()["next_page"]
        clock.now += emulator.cursor_ttl_seconds + 1
        response = client.get(COST, params={**params, "page": token})
    assert response.status_code == 410
    assert response.json()["type"] == "error"


def test_an_old_cursor_with_changed_parameters_is_400(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1 fact 4, §1.5: changing parameters mid-pagination gives 400."""
    params = {**_whole_period(billing), "time_bucket_width": "1d", "limit": 1}
    with _client(emulator) as client:
        token = client.get(COST, params=params).json()["next_page"]
        response = client.get(COST, params={**params, "group_by[]": "model", "page": token})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_date_past_the_watermark_is_400_naming_the_latest_day(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.5: a too-recent date is a 400 that names the latest available day."""
    with _client(emulator, ANALYTICS_KEY) as client:
        past = (billing.watermark + timedelta(days=1)).isoformat()
        response = client.get(USERS, params={"date": past})
        served = client.get(USERS, params={"date": billing.watermark.isoformat()})
    assert response.status_code == 400
    assert billing.watermark.isoformat() in response.json()["error"]["message"]
    assert served.status_code == 200


def test_the_analytics_apis_allow_60_requests_a_minute(
    emulator: BillingEmulator, billing: BillingData, clock: Clock
) -> None:
    """§1.5: 60 requests/min per organisation; the next is a 429 with `retry-after`."""
    params = {"starting_date": billing.start_date.isoformat()}
    with _client(emulator, ANALYTICS_KEY) as client:
        statuses = [client.get(SUMMARIES, params=params).status_code for _ in range(60)]
        limited = client.get(SUMMARIES, params=params)
        clock.now += 61
        again = client.get(SUMMARIES, params=params)
    assert statuses == [200] * 60
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        pytest.param("429", 429, "rate_limit_error", id="injected 429"),
        pytest.param("500", 500, "api_error", id="injected 500"),
        pytest.param("529", 529, "overloaded_error", id="injected 529"),
    ],
)
def test_injected_faults_come_in_the_error_envelope_then_clear(
    billing: BillingData, fault: str, status: int, error_type: str
) -> None:
    """§1.8: inject 429 + `retry-after` and 5xx, as the Compliance emulator does."""
    with (
        BillingEmulator(billing, retry_after_seconds=0, scripted_faults={2: fault}) as emulator,
        _client(emulator) as client,
    ):
        params = {"starting_at": _start(billing.start_date)}
        responses = [client.get(COST_REPORT, params=params) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, status, 200]
    assert responses[1].json() == {
        "type": "error",
        "error": {"type": error_type, "message": responses[1].json()["error"]["message"]},
    }
    if fault == "429":
        assert responses[1].headers["retry-after"] == "0"


@pytest.mark.parametrize("status", [403, 404])
def test_an_unavailable_beta_sends_clients_to_the_legacy_endpoints(
    billing: BillingData, status: int
) -> None:
    """§1.1, §1.6: the beta may not be available to an organisation; legacy still answers."""
    with (
        BillingEmulator(billing, beta_available=False, beta_unavailable_status=status) as emulator,
        _client(emulator) as client,
    ):
        beta = client.get(COST, params=_whole_period(billing))
        legacy = client.get(COST_REPORT, params=_whole_period(billing))
    assert beta.status_code == status
    assert beta.json()["type"] == "error"
    assert legacy.status_code == 200


def test_the_beta_header_is_required(emulator: BillingEmulator, billing: BillingData) -> None:
    """§1 fact 1: the beta endpoints need `anthropic-beta: analytics-usage-cost-2026-08-24`."""
    with _client(emulator, beta=False) as client:
        response = client.get(COST, params=_whole_period(billing))
    assert response.status_code == 400
    assert BETA in response.json()["error"]["message"]


def test_a_second_pull_sees_the_restated_day_revised(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1 fact 4, §1.5: cost is provisional for about 30 days and revised; a later pull sees
    the revised amount with a newer `data_refreshed_at`."""
    (restated,) = [p for p in billing.planted if p.kind == "restated_day"]
    params = {
        "starting_at": _start(restated.day),
        "ending_at": _start(restated.day + timedelta(days=1)),
        "time_bucket_width": "1d",
    }
    with _client(emulator) as client:
        first = client.get(COST, params=params).json()
        emulator.restate()
        second = client.get(COST, params=params).json()
    revised = _cents(second["data"][0]["cost"]["amount"]) - _cents(
        first["data"][0]["cost"]["amount"]
    )
    assert revised == restated.amount_usd > 0
    assert _cents(second["data"][0]["cost"]["amount"]) == _billed(billing, 1, restated.day)
    assert second["data_refreshed_at"] > first["data_refreshed_at"]


def test_claude_code_analytics_serves_one_day_per_call_without_the_subscription_user(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.4: `starting_at` is one UTC date, `estimated_cost.amount` a JSON number in cents,
    subscription users absent, remote and local usage in separate `is_remote` rows."""
    emulator.restate()
    (remote_day, remote_account), *_ = billing.remote
    emails = {}
    with _client(emulator) as client:
        assert (
            client.get(CLAUDE_CODE, params={"starting_at": _start(remote_day)}).status_code == 400
        )
        for offset in range((billing.watermark - billing.start_date).days + 1):
            day = billing.start_date + timedelta(days=offset)
            records, page = [], None
            while True:
                params = {"starting_at": day.isoformat(), "limit": 2, "page": page or []}
                body = client.get(CLAUDE_CODE, params=params).json()
                records += body["data"]
                if not (page := body["next_page"]):
                    break
            assert {r["date"] for r in records} <= {_start(day)}
            emails[day] = records
    subscriber = billing.members[billing.subscription_account_id].email
    assert all(r["actor"]["email_address"] != subscriber for rs in emails.values() for r in rs)
    remote_email = billing.members[remote_account].email
    flags = sorted(
        r["is_remote"] for r in emails[remote_day] if r["actor"]["email_address"] == remote_email
    )
    assert flags == [False, True]
    for day, records in emails.items():
        estimates = [m["estimated_cost"]["amount"] for r in records for m in r["model_breakdown"]]
        assert all(isinstance(amount, int | float) for amount in estimates)
        (planted,) = [
            p for p in billing.planted if p.kind == "claude_code_estimate" and p.day == day
        ] or [None]
        if planted is not None:
            total = sum(Decimal(repr(amount)) for amount in estimates)
            assert total == Decimal(planted.detail["estimated_cost_cents"])
            billed = [
                row
                for row in billing.rows(1)
                if row.day == day
                and row.product == "claude_code"
                and row.account_id != billing.subscription_account_id
            ]
            assert total / 100 + planted.amount_usd == usd_of(sum(r.cost_nano for r in billed))


def test_enterprise_users_report_cowork_metrics_per_user_per_day(
    emulator: BillingEmulator, billing: BillingData, small_org: GenerationResult
) -> None:
    """§1.5: `/users` has one record per user for a `date`, with `user{id, email_address}`
    and `cowork_metrics` / `claude_code_metrics` blocks."""
    day = billing.start_date
    with _client(emulator, ANALYTICS_KEY) as client:
        records = client.get(USERS, params={"date": day.isoformat(), "limit": 1000}).json()["data"]
    expected = {a.member.account_id: a for a in billing.activity if a.day == day}
    assert {r["user"]["id"] for r in records} == set(expected)
    for record in records:
        activity = expected[record["user"]["id"]]
        assert record["user"]["email_address"] == activity.member.email
        if activity.member.product == "cowork":
            assert record["cowork_metrics"]["message_count"] == activity.prompts
            assert record["cowork_metrics"]["distinct_session_count"] == activity.sessions
        else:
            core = record["claude_code_metrics"]["core_metrics"]
            assert core["distinct_session_count"] == activity.sessions


def test_enterprise_users_rollup_ends_before_ending_date(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.5 docs: a rollup covers `starting_date` (inclusive) to `ending_date` (exclusive);
    `date` alone is one day, and not combined with a range."""
    first, last = billing.start_date, billing.watermark
    params = {"starting_date": first.isoformat(), "ending_date": last.isoformat()}
    with _client(emulator, ANALYTICS_KEY) as client:
        records = client.get(USERS, params={**params, "limit": 1000}).json()["data"]
        both = client.get(USERS, params={**params, "date": first.isoformat()})
    sessions = defaultdict(int)
    for activity in billing.activity:
        if first <= activity.day < last:
            sessions[activity.member.account_id] += activity.sessions
    for record in records:
        assert record["ending_date"] == last.isoformat()
        metrics = record["cowork_metrics"]["distinct_session_count"]
        metrics += record["claude_code_metrics"]["core_metrics"]["distinct_session_count"]
        assert metrics == sessions[record["user"]["id"]]
    assert {record["user"]["id"] for record in records} == set(sessions)
    assert both.status_code == 400


def test_enterprise_summaries_are_one_entry_per_day_of_the_range(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.5 docs: one entry per day from `starting_date` (inclusive) to `ending_date`
    (exclusive, by default the latest available day + 1), each with `starting_at` and
    `ending_at` at UTC midnight, in the `data` / `next_page` envelope (`next_page` null);
    DAU/WAU/MAU overall and per product, seats, pending invites, adoption rates."""
    with _client(emulator, ANALYTICS_KEY) as client:
        body = client.get(
            SUMMARIES, params={"starting_date": billing.start_date.isoformat(), "limit": 1000}
        ).json()
        ranged = client.get(
            SUMMARIES,
            params={
                "starting_date": billing.start_date.isoformat(),
                "ending_date": billing.watermark.isoformat(),
            },
        ).json()
    days = [billing.start_date + timedelta(days=n) for n in range(len(body["data"]))]
    assert days[-1] == billing.watermark and body["next_page"] is None
    assert len(ranged["data"]) == len(days) - 1
    seats = len(billing.members)
    for day, entry in zip(days, body["data"], strict=True):
        assert entry["starting_at"] == _start(day)
        assert entry["ending_at"] == _start(day + timedelta(days=1))
        active = {a.member.account_id for a in billing.activity if a.day == day and a.sessions}
        assert entry["daily_active_user_count"] == len(active)
        coders = {a for a in active if billing.members[a].product == "claude_code"}
        assert entry["claude_code_daily_active_user_count"] == len(coders)
        assert entry["cowork_daily_active_user_count"] == len(active - coders)
        assert entry["assigned_seat_count"] == seats and entry["pending_invite_count"] == 0
        assert entry["daily_adoption_rate"] == round(len(active) / seats * 100, 2)


@pytest.mark.parametrize(
    ("key", "path", "status"),
    [
        pytest.param(None, COST_REPORT, 401, id="no key"),
        pytest.param("sk-ant-admin01-wrong", COST_REPORT, 401, id="unknown key"),
        pytest.param(ANALYTICS_KEY, COST_REPORT, 403, id="analytics key on the Admin API"),
        pytest.param(ADMIN_KEY, USERS, 403, id="admin key on Enterprise Analytics"),
        pytest.param(ANALYTICS_KEY, COST, 200, id="analytics key on the beta"),
        pytest.param(ADMIN_KEY, COST, 200, id="admin key on the beta"),
    ],
)
def test_keys_reach_only_their_endpoints(
    emulator: BillingEmulator, billing: BillingData, key: str | None, path: str, status: int
) -> None:
    """§1.1: Admin key for the Admin API, `read:analytics` for Enterprise, both for the beta;
    errors in Anthropic's envelope."""
    headers = {**VERSION, "anthropic-beta": BETA} | ({"x-api-key": key} if key else {})
    params = {**_whole_period(billing), "date": billing.start_date.isoformat()}
    if path != USERS:
        del params["date"]
    response = httpx.get(emulator.url + path, params=params, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.json()["type"] == "error"


def test_the_key_is_never_echoed(emulator: BillingEmulator, billing: BillingData) -> None:
    """No response, success or error, carries the caller's key back (style.md §9.4)."""
    period = _whole_period(billing)
    calls = [
        (ADMIN_KEY, COST, period),
        (ADMIN_KEY, USAGE, {**period, "group_by[]": "actor"}),
        (ADMIN_KEY, COST_REPORT, period),
        (ADMIN_KEY, MESSAGES, {**period, "group_by[]": "account_id"}),
        (ADMIN_KEY, CLAUDE_CODE, {"starting_at": billing.start_date.isoformat()}),
        (ADMIN_KEY, USERS, {"date": billing.start_date.isoformat()}),
        (ANALYTICS_KEY, USERS, {"date": billing.start_date.isoformat()}),
        (ANALYTICS_KEY, SUMMARIES, {"starting_date": billing.start_date.isoformat()}),
        (ANALYTICS_KEY, COST_REPORT, period),
        (ANALYTICS_KEY, COST, {"starting_at": "2025-12-01T00:00:00Z"}),
        (ADMIN_KEY + "x", COST, period),
    ]
    statuses = set()
    for key, path, params in calls:
        headers = {"x-api-key": key, **VERSION, "anthropic-beta": BETA}
        response = httpx.get(emulator.url + path, params=params, headers=headers)
        statuses.add(response.status_code)
        everything = response.text + "".join(f"{k}: {v}" for k, v in response.headers.items())
        assert "SENTINEL" not in everything
    assert statuses == {200, 400, 401, 403}


def test_beta_usage_carries_billed_tokens_and_web_searches(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """§1.6: `usage{uncached_input_tokens, cache_read_input_tokens, cache_creation{…},
    output_tokens, server_tool_use{web_search_requests}, requests, total_tokens}`."""
    with _client(emulator) as client:
        (row,) = client.get(USAGE, params=_whole_period(billing)).json()["data"]
    usage, rows = row["usage"], billing.rows(0)
    assert usage["uncached_input_tokens"] == sum(r.tokens["uncached_input_tokens"] for r in rows)
    assert usage["cache_creation"]["ephemeral_1h_input_tokens"] == sum(
        r.tokens["cache_creation.ephemeral_1h_input_tokens"] for r in rows
    )
    assert usage["server_tool_use"]["web_search_requests"] == sum(
        int(p.detail["web_search_requests"]) for p in billing.planted if p.kind == "web_search"
    )
    assert usage["total_tokens"] == sum(sum(r.tokens.values()) for r in rows)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(COST_REPORT, {"limit": 32}, id="cost_report limit above 31"),
        pytest.param(COST_REPORT, {"limit": 0}, id="cost_report limit below 1"),
        pytest.param(COST_REPORT, {"group_by[]": "api_key_id"}, id="cost_report api_key_id"),
        pytest.param(MESSAGES, {"bucket_width": "1h"}, id="messages hourly (not served)"),
        pytest.param(CLAUDE_CODE, {"limit": 1001}, id="claude_code limit above 1000"),
        pytest.param(COST, {"ending_at": "2026-04-15T00:00:00Z"}, id="beta range above 31 days"),
        pytest.param(COST, {"starting_at": "2025-12-31T00:00:00Z"}, id="beta before 2026"),
        pytest.param(COST, {"group_by[0]": "model"}, id="beta group_by[0] (ingestr)"),
        pytest.param(USAGE, {"group_by[]": "token_type"}, id="usage grouped by a cost field"),
    ],
)
def test_limits_and_parameters_outside_the_contract_are_400(
    emulator: BillingEmulator, path: str, params: dict
) -> None:
    """§1.3: `limit` 1 to 31, `group_by[]` only workspace_id/description; §1.4: `limit` at most
    1000; §1.5/§1.6: ranges of at most 31 days from 2026-01-01; §1.7: misnamed parameters."""
    base = {"starting_at": "2026-03-07T00:00:00Z"}
    if path == CLAUDE_CODE:
        base = {"starting_at": "2026-03-07"}
    with _client(emulator) as client:
        response = client.get(path, params={**base, **params})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_dropped_connection_is_a_transport_error(billing: BillingData) -> None:
    """§1.8 / the Compliance emulator: an injected dropped connection, then service resumes."""
    with (
        BillingEmulator(billing, scripted_faults={1: "drop"}) as emulator,
        _client(emulator) as client,
    ):
        params = {"starting_at": _start(billing.start_date)}
        with pytest.raises(httpx.TransportError):
            client.get(COST_REPORT, params=params)
        assert client.get(COST_REPORT, params=params).status_code == 200
    assert emulator.faults_injected == {"drop": 1}


def test_legacy_messages_group_and_filter_by_model(
    emulator: BillingEmulator, billing: BillingData
) -> None:
    """Spec §5.2: `group_by[]` fills only the grouped dimensions (others null), `models[]`
    filters; tokens are the billed ones, web searches under `server_tool_use`."""
    model = billing.usage[0].model
    params = {**_whole_period(billing), "group_by[]": "model", "models[]": model, "limit": 31}
    with _client(emulator) as client:
        body = client.get(MESSAGES, params=params).json()
    results = [r for b in body["data"] for r in b["results"]]
    assert {r["model"] for r in results} == {model}
    assert all(r["account_id"] is None and r["workspace_id"] is None for r in results)
    expected = sum(r.tokens["output_tokens"] for r in billing.rows(0) if r.model == model)
    assert sum(r["output_tokens"] for r in results) == expected
