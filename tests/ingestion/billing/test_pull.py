"""Billing pulls over real HTTP against the billing emulator (simulation/billing_emulator.py).

Each test names the documented behaviour it relies on (sections of
/work/shared/reference/billing-apis.md, "§").
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from configuration.settings import Secret, Settings
from ingestion.anthropic_api.client import RateLimiter
from ingestion.anthropic_api.errors import AnthropicApiError
from ingestion.billing.pull import BillingClients, BillingPullSummary, pull_billing
from ingestion.paths import DataLayout
from simulation.billing import BillingData, usd_of
from simulation.billing_emulator import BillingEmulator
from simulation.generate import GenerationResult
from tests.support.billing import ADMIN_KEY, ANALYTICS_KEY, billing_settings

BACKFILL = 10


@pytest.fixture(scope="module")
def billing(small_org: GenerationResult) -> BillingData:
    return BillingData.load(Path(small_org.output_dir))


def _emulator(billing: BillingData, **options) -> BillingEmulator:
    options.setdefault("retry_after_seconds", 0)
    # Its 60/minute budget is tested in tests/simulation; here it would only add waiting.
    options.setdefault("analytics_requests_per_minute", 60_000)
    return BillingEmulator(
        billing, admin_api_key=ADMIN_KEY, analytics_api_key=ANALYTICS_KEY, **options
    )


@pytest.fixture
def emulator(billing: BillingData) -> Iterator[BillingEmulator]:
    with _emulator(billing) as running:
        yield running


def _clients(
    url: str, tmp_path: Path, *, admin: bool = True, analytics: bool = True, **options
) -> BillingClients:
    settings = billing_settings(tmp_path / "data", url, admin=admin, analytics=analytics)
    # The emulator's own 60/minute limit is tested in tests/simulation; here, no waiting.
    options.setdefault("limiter", RateLimiter(per_minute=60_000, burst=1_000))
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    return BillingClients.from_settings(settings, **options)


def _pull(
    url: str, layout: DataLayout, billing: BillingData, today: date | None = None, **options
) -> BillingPullSummary:
    clients = _clients(url, layout.root.parent, **options)
    today = today or billing.watermark + timedelta(days=1)
    try:
        return pull_billing(clients, layout, backfill_days=BACKFILL, today=today)
    finally:
        clients.close()


def _landed(layout: DataLayout, report: str, select: str, group: str = "") -> list[tuple]:
    files = str(layout.billing(report) / "*" / "*.parquet")
    with duckdb.connect() as connection:
        return connection.execute(
            f"select {select} from read_parquet('{files}') {group} order by all"
        ).fetchall()


def _totals(layout: DataLayout) -> dict[date, Decimal]:
    rows = _landed(layout, "cost_totals", "cost_date, amount_usd")
    return {day: amount for day, amount in rows if amount}


def _billed(billing: BillingData, provisional: bool) -> dict[date, Decimal]:
    """Ground truth: the billed cost of each day, as the first or the revised pull sees it."""
    nano: dict[date, int] = defaultdict(int)
    for day, *_, billed, first_pull in billing.daily_totals():
        nano[day] += first_pull if provisional else billed
    return {day: usd_of(amount) for day, amount in nano.items()}


def _expected_days(billing: BillingData, provisional: bool) -> dict[date, Decimal]:
    """The billed cost of each day of the pull window that had any (the beta sends no row
    for a day without cost; the legacy report a bucket with no results)."""
    last = billing.watermark
    days = [last - timedelta(days=n) for n in range(BACKFILL)]
    billed = _billed(billing, provisional)
    return {day: billed[day] for day in sorted(days) if billed.get(day)}


def _day_files(layout: DataLayout, report: str) -> int:
    return len(list(layout.billing(report).glob("*/part.parquet")))


def test_billed_totals_are_exact_to_the_fractional_cent(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """§ facts 2 and 4: amounts are fractional-cent strings; totals come ungrouped."""
    layout = DataLayout(tmp_path / "data")
    summary = _pull(emulator.url, layout, billing)
    assert {source for *_, source in summary.windows} == {"analytics_beta"}
    assert _totals(layout) == _expected_days(billing, provisional=True)
    # Every day of the window has its file: a rerun replaces each day whole.
    assert _day_files(layout, "cost_totals") == BACKFILL == summary.days_replaced["cost_totals"]
    _assert_one_total_a_day(layout, billing)
    # The breakdown (top 100 groups per bucket, no remainder row) never exceeds the total;
    # the small organisation has fewer groups, so here it adds up exactly.
    breakdown = dict(_landed(layout, "cost_breakdown", "cost_date, sum(amount_usd)", "group by 1"))
    assert breakdown == {day: cost for day, cost in _totals(layout).items() if cost}
    # Web search is billed (cost type web_search) though OTel never reports it.
    types = {row[0] for row in _landed(layout, "cost_breakdown", "distinct cost_type")}
    assert {"tokens", "web_search"} <= types
    assert summary.quarantined == {}


def test_a_restated_day_replaces_what_was_landed(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """§ fact 4: cost is provisional for ~30 days; a revision replaces, never adds."""
    layout = DataLayout(tmp_path / "data")
    _pull(emulator.url, layout, billing)
    first = _totals(layout)
    emulator.restate()
    _pull(emulator.url, layout, billing)
    revised = _totals(layout)
    assert revised == _expected_days(billing, provisional=False)
    changed = [day for day in revised if revised[day] != first[day]]
    restated = [p.day for p in billing.planted if p.kind == "restated_day"]
    assert changed == restated and len(changed) == 1
    # One row per day, and the newer refresh time on every day of the second pull.
    assert _landed(layout, "cost_totals", "count(*) = count(distinct cost_date)") == [(True,)]
    refreshed = _landed(layout, "cost_totals", "distinct data_refreshed_at")
    assert len(refreshed) == 1


def test_without_the_beta_the_legacy_report_is_used_and_never_both(
    billing: BillingData, tmp_path: Path
) -> None:
    """§1.1: a 403/404 from the beta means the legacy cost_report; one source per window."""
    layout = DataLayout(tmp_path / "data")
    with _emulator(billing) as beta:
        _pull(beta.url, layout, billing)
    for status in (403, 404):
        with _emulator(billing, beta_available=False, beta_unavailable_status=status) as legacy:
            summary = _pull(legacy.url, layout, billing)
        assert {source for *_, source in summary.windows} == {"admin_legacy"}
        # Every day now comes from the legacy report alone, to the fractional cent.
        assert _landed(layout, "cost_totals", "distinct source") == [("admin_legacy",)]
        assert _landed(layout, "cost_breakdown", "distinct source") == [("admin_legacy",)]
        assert _totals(layout) == _expected_days(billing, provisional=True)
        # The breakdown's model, cost type and token type come with its description.
        undescribed = "count(*) filter (description is null or model is null)"
        assert _landed(layout, "cost_breakdown", undescribed) == [(0,)]
        _assert_one_total_a_day(layout, billing)


def _assert_one_total_a_day(layout: DataLayout, billing: BillingData) -> None:
    """Every day of the window has exactly one total: a day without cost a zero one (the beta
    lists no row for it, the legacy report an empty bucket), so that the warehouse knows
    the day was billed nothing rather than not pulled."""
    days_without_cost = BACKFILL - len(_expected_days(billing, provisional=True))
    counted = "count(*), count(distinct cost_date), count(*) filter (amount_usd = 0)"
    assert _landed(layout, "cost_totals", counted) == [(BACKFILL, BACKFILL, days_without_cost)]


def test_once_the_beta_refused_the_later_windows_go_straight_to_the_legacy_report(
    billing: BillingData, tmp_path: Path
) -> None:
    """§1.1: 40 days are two windows (31 days at most each); the beta is asked once."""
    layout = DataLayout(tmp_path / "data")
    with _emulator(billing, beta_available=False) as legacy:
        clients = _clients(legacy.url, tmp_path)
        try:
            summary = pull_billing(
                clients, layout, backfill_days=40, today=billing.watermark + timedelta(days=1)
            )
        finally:
            clients.close()
        asked = legacy.requests_by_path
    assert [source for *_, source in summary.windows] == ["admin_legacy", "admin_legacy"]
    assert asked["/v1/organizations/analytics/cost"] == 1
    assert asked["/v1/organizations/cost_report"] >= 4  # totals and breakdown, per window


def test_without_the_beta_or_an_admin_key_the_pull_says_what_is_missing(
    billing: BillingData, tmp_path: Path
) -> None:
    with _emulator(billing, beta_available=False) as legacy:
        clients = _clients(legacy.url, tmp_path, admin=False)
        with pytest.raises(AnthropicApiError, match="needs ANTHROPIC_ADMIN_API_KEY"):
            pull_billing(clients, DataLayout(tmp_path / "data"), today=billing.watermark)
        clients.close()


def _clean_pull(billing: BillingData, tmp_path: Path) -> DataLayout:
    """What a pull without faults lands, to compare with."""
    layout = DataLayout(tmp_path / "clean" / "data")
    with _emulator(billing) as emulator:
        _pull(emulator.url, layout, billing)
    return layout


def test_faults_land_the_same_data(billing: BillingData, tmp_path: Path) -> None:
    """§1.8: 429 with retry-after, 5xx and dropped connections are retried to the same data."""
    clean, faulty = _clean_pull(billing, tmp_path), DataLayout(tmp_path / "f" / "data")
    with _emulator(billing, fault_rate=0.3, seed=5, slow_seconds=0.01) as emulator:
        summary = _pull(emulator.url, faulty, billing)
        assert sum(emulator.faults_injected.values()) > 0
    assert summary.retries > 0
    for report, columns in (
        ("cost_totals", "cost_date, amount_usd, requests"),
        ("cost_breakdown", "cost_date, product, model, cost_type, token_type, amount_usd"),
        ("claude_code_models", "usage_date, email, is_remote, model, estimated_cost_usd"),
        ("enterprise_users", "usage_date, user_id, cowork_message_count, cowork_action_count"),
        ("enterprise_summaries", "usage_date, daily_active_user_count, assigned_seat_count"),
    ):
        assert _landed(faulty, report, columns) == _landed(clean, report, columns)


def _pull_expiring_a_cursor(
    billing: BillingData, layout: DataLayout, path: str
) -> BillingPullSummary:
    """A pull in which the first cursor `path` hands out expires before it is used."""
    now = [0.0]
    with _emulator(billing, clock=lambda: now[0], cursor_ttl_seconds=60) as emulator:
        answer = emulator.respond

        def respond_then_expire(requested, query, headers):
            status, body, extra = answer(requested, query, headers)
            if requested == path and body.get("next_page") and not now[0]:
                now[0] = 61.0  # older than its 60 s lifetime when the next request comes
            return status, body, extra

        emulator.respond = respond_then_expire
        return _pull(emulator.url, layout, billing)


def test_an_expired_cursor_restarts_the_listing_cleanly(
    billing: BillingData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§1.5: a cursor older than its lifetime is a 410; the window is listed again."""
    from ingestion.billing import pull

    monkeypatch.setattr(pull, "BETA_PAGE", 5)  # several pages per listing
    clean = _clean_pull(billing, tmp_path)
    layout = DataLayout(tmp_path / "data")
    summary = _pull_expiring_a_cursor(billing, layout, pull.BETA_COST)
    assert summary.restarts == 1
    assert _totals(layout) == _totals(clean)
    columns = "cost_date, product, model, cost_type, token_type, amount_usd"
    assert _landed(layout, "cost_breakdown", columns) == _landed(clean, "cost_breakdown", columns)


def test_a_cursor_refused_for_other_parameters_restarts_once_and_counts_once(
    billing: BillingData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§1.5: an old cursor with changed parameters is a 400; the listing starts again, and
    what its first attempt quarantined is neither kept twice nor counted twice."""
    from ingestion.billing import pull

    monkeypatch.setattr(pull, "BETA_PAGE", 5)
    clean = _clean_pull(billing, tmp_path)
    layout = DataLayout(tmp_path / "data")
    refused = []
    with _emulator(billing) as emulator:
        answer = emulator.respond

        def respond(path, query, headers):
            status, body, extra = answer(path, query, headers)
            if path.endswith("/analytics/cost") and "group_by[]" in query and status == 200:
                if body["data"]:  # one malformed row on every breakdown page
                    body["data"][0] = {**body["data"][0], "cost": {"amount": "$1"}}
                if "page" in query and not refused:
                    refused.append(query["page"])
                    error = {"type": "invalid_request_error", "message": "other parameters"}
                    return 400, {"type": "error", "error": error}, {}
            return status, body, extra

        emulator.respond = respond
        summary = _pull(emulator.url, layout, billing)
    assert summary.restarts == 1 and refused
    pages = -(-len(_landed(clean, "cost_breakdown", "*")) // 5)  # pages of the listing
    assert summary.quarantined == {"cost_breakdown": pages}
    files = list(layout.billing("quarantine").glob("cost_breakdown/*.jsonl"))
    lines = sum(len(path.read_text().splitlines()) for path in files)
    assert lines == pages
    # The window's days kept what was landed before (nothing: this is the first pull).
    assert not layout.billing("cost_totals").exists()
    assert any("quarantined" in notice for notice in summary.notices)


def test_a_quarantined_total_leaves_its_day_as_it_was(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """A malformed total must not turn a known day's cost into none: the window is kept."""
    layout = DataLayout(tmp_path / "data")
    _pull(emulator.url, layout, billing)
    first = _totals(layout)
    answer = emulator.respond

    def respond(path, query, headers):
        status, body, extra = answer(path, query, headers)
        if path.endswith("/analytics/cost") and "group_by[]" not in query and body.get("data"):
            body["data"][-1] = {**body["data"][-1], "cost": {"amount": "-5"}}
        return status, body, extra

    emulator.respond = respond
    emulator.restate()  # what the second pull would otherwise land
    summary = _pull(emulator.url, layout, billing)
    assert summary.quarantined == {"cost_totals": 1}
    assert _totals(layout) == first
    reasons = [
        line
        for path in layout.billing("quarantine").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(reasons) == 1 and "non-negative" in reasons[0]


def test_claude_code_estimates_land_apart_from_billed_cost(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """§1.4: one day per call, `is_remote` rows, estimated_cost a number in cents."""
    layout = DataLayout(tmp_path / "data")
    _pull(emulator.url, layout, billing)
    landed = dict(
        _landed(layout, "claude_code_models", "usage_date, sum(estimated_cost_usd)", "group by 1")
    )
    expected = {}
    for offset in range(BACKFILL):
        day = billing.watermark - timedelta(days=offset)
        cents = sum(
            usage.estimated_cents()
            for row in billing.claude_code_rows(day, 0)
            for usage in row.models
        )
        if cents:
            expected[day] = cents / 100
    assert landed == expected
    assert _landed(layout, "claude_code_users", "bool_or(is_remote)") == [(True,)]
    # The subscription user is billed but absent from Claude Code Analytics (§ fact 5).
    absent = billing.members[billing.subscription_account_id].email
    emails = {row[0] for row in _landed(layout, "claude_code_users", "distinct email")}
    assert absent not in emails and emails
    # Estimates never enter billed cost: the cost reports equal the billed ground truth.
    assert _totals(layout) == _expected_days(billing, provisional=True)


def test_the_keys_leak_nowhere(
    billing: BillingData, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys never appear in logs, errors or files of a pull, faults and refused keys
    included (the shared client's redaction of keys a server echoes is tested in
    tests/ingestion/compliance_api/test_hostile_server.py)."""
    caplog.set_level(logging.DEBUG)
    layout = DataLayout(tmp_path / "data")
    refusals = []
    with _emulator(billing, fault_rate=0.2, seed=3, slow_seconds=0.01) as emulator:
        summary = _pull(emulator.url, layout, billing)
        assert {"enterprise_users", "enterprise_summaries"} <= summary.days_replaced.keys()
        # A revoked Admin key fails the cost reports; a revoked analytics key, next to a
        # good Admin key, fails the Enterprise Analytics endpoints.
        for keys in (
            {"admin_api_key": Secret(ADMIN_KEY + "-revoked")},
            {
                "admin_api_key": Secret(ADMIN_KEY),
                "analytics_api_key": Secret(ANALYTICS_KEY + "-revoked"),
            },
        ):
            wrong = BillingClients.from_settings(
                Settings(data_dir=tmp_path / "data", anthropic_base_url=emulator.url, **keys),
                limiter=RateLimiter(per_minute=60_000, burst=1_000),
            )
            with pytest.raises(AnthropicApiError) as refused:
                pull_billing(wrong, layout, today=billing.watermark)
            wrong.close()
            refusals.append(refused.value)
    assert [(error.status, error.path) for error in refusals] == [
        (401, "/v1/organizations/analytics/cost"),
        (401, "/v1/organizations/analytics/summaries"),
    ]
    shown = "".join(str(error) for error in refusals) + caplog.text
    for path in layout.root.rglob("*"):
        if path.is_file():
            shown += path.read_bytes().decode("utf-8", "replace")
    assert "SENTINEL" not in shown


# -- Enterprise Analytics (§1.5) ------------------------------------------------------------

USER_COLUMNS = (
    "usage_date, user_id, email, chat_distinct_conversation_count, chat_message_count,"
    " cowork_message_count, cowork_distinct_session_count, cowork_action_count,"
    " cowork_skills_used_count, claude_code_distinct_session_count, claude_code_commit_count"
)
SUMMARY_COLUMNS = (
    "usage_date, daily_active_user_count, weekly_active_user_count, monthly_active_user_count,"
    " cowork_daily_active_user_count, cowork_monthly_active_user_count,"
    " claude_code_daily_active_user_count, claude_code_weekly_active_user_count,"
    " assigned_seat_count, pending_invite_count"
)


def _window(billing: BillingData, last: date | None = None) -> list[date]:
    """The days of the pull window (ending with the watermark) up to `last`."""
    days = [billing.watermark - timedelta(days=n) for n in range(BACKFILL)]
    return sorted(day for day in days if last is None or day <= last)


def _expected_users(billing: BillingData, days: list[date]) -> list[tuple]:
    """Ground truth: each person's day of `BillingData.activity`, as USER_COLUMNS."""
    rows = []
    for activity in billing.activity:
        if activity.day not in days:
            continue
        cowork = activity.member.product == "cowork"
        rows.append(
            (
                activity.day,
                activity.member.account_id,
                activity.member.email,
                activity.chats_created,
                None,  # the emulator sends no chat message count: null, not zero
                activity.prompts if cowork else 0,
                activity.sessions if cowork else 0,
                activity.tool_results if cowork else 0,
                activity.tool_calls.get("Skill", 0) if cowork else 0,
                0 if cowork else activity.sessions,
                0,  # the simulated clients make no commits
            )
        )
    return sorted(rows)


def _expected_summaries(billing: BillingData, days: list[date]) -> list[tuple]:
    """Ground truth: each day's active people (any session) over 1, 7 and 30 days."""

    def active(day: date, window: int, product: str | None = None) -> int:
        return len(
            {
                activity.member.account_id
                for activity in billing.activity
                if activity.sessions
                and day - timedelta(days=window) < activity.day <= day
                and product in (None, activity.member.product)
            }
        )

    seats = len(billing.members)
    return [
        (
            day,
            active(day, 1),
            active(day, 7),
            active(day, 30),
            active(day, 1, "cowork"),
            active(day, 30, "cowork"),
            active(day, 1, "claude_code"),
            active(day, 7, "claude_code"),
            seats,
            0,
        )
        for day in days
    ]


def _recording(emulator: BillingEmulator) -> list[tuple[str, dict]]:
    """Every request the emulator answers from now on: (path, query)."""
    seen: list[tuple[str, dict]] = []
    answer = emulator.respond

    def respond(path, query, headers):
        seen.append((path, query))
        return answer(path, query, headers)

    emulator.respond = respond
    return seen


def test_enterprise_activity_lands_exactly_per_user_and_day(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """§1.5: `/users` one `date` per request (never the approximate rollup), `/summaries`
    in ranges of at most 31 days; counts equal the generator's activity exactly."""
    requests = _recording(emulator)
    layout = DataLayout(tmp_path / "data")
    summary = _pull(emulator.url, layout, billing)
    days = _window(billing)
    assert _landed(layout, "enterprise_users", USER_COLUMNS) == _expected_users(billing, days)
    summaries = _landed(layout, "enterprise_summaries", SUMMARY_COLUMNS)
    assert summaries == _expected_summaries(billing, days)
    # Whole days, an empty file for a day without activity; nothing quarantined.
    assert summary.days_replaced["enterprise_users"] == BACKFILL
    assert _day_files(layout, "enterprise_users") == _day_files(layout, "enterprise_summaries")
    assert _day_files(layout, "enterprise_summaries") == BACKFILL
    assert summary.quarantined == {} and summary.notices == []
    # The Claude Code tool decisions are kept whole, as sorted JSON.
    tools = _landed(layout, "enterprise_users", "distinct claude_code_tool_actions_json")
    assert all(text.startswith('{"edit_tool": {"accepted_count": ') for (text,) in tools)
    users = [query for path, query in requests if path.endswith("/analytics/users")]
    assert sorted(query["date"][0] for query in users) == [day.isoformat() for day in days]
    assert not any("starting_date" in query for query in users)
    for path, query in requests:
        if path.endswith("/analytics/summaries"):
            start, end = (
                date.fromisoformat(query[name][0]) for name in ("starting_date", "ending_date")
            )
            assert timedelta(days=1) <= end - start <= timedelta(days=31)


def test_a_too_recent_day_ends_the_enterprise_window_with_a_notice(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """§1.5: a date past the latest available day is a 400 naming that day; the window
    ends there (a later run pulls the rest) and the pull does not fail."""
    layout = DataLayout(tmp_path / "data")
    today = billing.watermark + timedelta(days=3)  # the window's last 2 days are too recent
    summary = _pull(emulator.url, layout, billing, today=today)
    days = [today - timedelta(days=n) for n in range(BACKFILL, 0, -1)]
    available = [day for day in days if day <= billing.watermark]
    assert _landed(layout, "enterprise_users", USER_COLUMNS) == _expected_users(billing, available)
    assert _landed(layout, "enterprise_summaries", SUMMARY_COLUMNS) == _expected_summaries(
        billing, available
    )
    for report in ("enterprise_users", "enterprise_summaries"):
        assert summary.days_replaced[report] == len(available) == _day_files(layout, report)
    (notice,) = summary.notices
    assert billing.watermark.isoformat() in notice and "later run" in notice
    # The other reports keep their whole window.
    assert summary.days_replaced["cost_totals"] == BACKFILL


def test_an_expired_cursor_restarts_the_users_listing_cleanly(
    billing: BillingData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§1.5: a cursor older than its lifetime is a 410; the day is listed again, and
    lands what an uninterrupted pull lands."""
    from ingestion.billing import enterprise

    monkeypatch.setattr(enterprise, "USERS_PAGE", 5)  # several pages a day
    clean = _clean_pull(billing, tmp_path)
    layout = DataLayout(tmp_path / "data")
    summary = _pull_expiring_a_cursor(billing, layout, enterprise.USERS)
    assert summary.restarts == 1
    assert _landed(layout, "enterprise_users", "*") != []
    columns = USER_COLUMNS + ", claude_code_tool_actions_json"
    assert _landed(layout, "enterprise_users", columns) == _landed(
        clean, "enterprise_users", columns
    )


def test_a_malformed_enterprise_record_is_quarantined_and_its_days_kept(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    """Counts are non-negative integers: a record with another is quarantined, counted and
    explained, and the days it belongs to keep what an earlier pull landed."""
    layout = DataLayout(tmp_path / "data")
    _pull(emulator.url, layout, billing)
    [(first_pull,)] = _landed(layout, "enterprise_users", "distinct pulled_at")
    bad_day = billing.watermark.isoformat()
    answer = emulator.respond

    def respond(path, query, headers):
        status, body, extra = answer(path, query, headers)
        if path.endswith("/analytics/users") and query["date"] == [bad_day]:
            body["data"][0]["cowork_metrics"]["message_count"] = -1
        if path.endswith("/analytics/summaries"):
            body["data"][0]["daily_active_user_count"] = "3"
        return status, body, extra

    emulator.respond = respond
    summary = _pull(emulator.url, layout, billing)
    assert summary.quarantined == {"enterprise_users": 1, "enterprise_summaries": 1}
    pulled = dict(_landed(layout, "enterprise_users", "usage_date, max(pulled_at)", "group by 1"))
    assert {day for day, at in pulled.items() if at == first_pull} == {billing.watermark}
    # The summaries' one range (10 days) is kept whole.
    assert _landed(layout, "enterprise_summaries", "distinct pulled_at") == [(first_pull,)]
    assert summary.days_replaced["enterprise_users"] == BACKFILL - 1
    assert "enterprise_summaries" not in summary.days_replaced
    assert sum("keep" in notice for notice in summary.notices) == 2
    entries = [
        json.loads(line)
        for path in layout.billing("quarantine").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(entry["reason"] for entry in entries) == [
        "cowork_metrics.message_count is negative (-1), not a count",
        "daily_active_user_count is a string, not a count",
    ]
    # Regression: a record holding a fractional number (read exactly, as a Decimal, by the
    # billing clients) made the quarantine itself fail with "Decimal is not JSON
    # serializable"; it is kept as the number it was.
    (day,) = [json.loads(e["record_json"]) for e in entries if "daily_active" in e["reason"]]
    assert isinstance(day["daily_adoption_rate"], float)


def test_without_the_analytics_key_enterprise_analytics_is_skipped_with_one_notice(
    emulator: BillingEmulator, billing: BillingData, tmp_path: Path
) -> None:
    requests = _recording(emulator)
    layout = DataLayout(tmp_path / "data")
    summary = _pull(emulator.url, layout, billing, analytics=False)
    (notice,) = summary.notices
    assert "ANTHROPIC_ANALYTICS_API_KEY" in notice
    assert not any(
        path.endswith(("/analytics/users", "/analytics/summaries")) for path, _ in requests
    )
    assert not layout.billing("enterprise_users").exists()
    assert summary.days_replaced.keys() == {
        "cost_totals",
        "cost_breakdown",
        "claude_code_users",
        "claude_code_models",
    }
