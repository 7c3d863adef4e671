"""A local emulator of Anthropic's billing and analytics APIs, serving a generated organisation.

One threading HTTP server on 127.0.0.1 (stdlib, like `simulation.compliance_emulator`)
serves the billed view of `simulation.billing.BillingData` on every endpoint issue 17 reads
(`/work/shared/reference/billing-apis.md`, "§" below):

- the Usage and Cost Analytics API (beta, §1.6): `/v1/organizations/analytics/cost` and
  `/analytics/usage`, fractional-cent strings, top 100 groups per bucket, opaque cursors;
- the legacy Admin API (§1.2, §1.3): `/v1/organizations/cost_report` and
  `/usage_report/messages`, day buckets with `page_…` tokens, empty buckets included;
- Claude Code Analytics (§1.4): `/v1/organizations/usage_report/claude_code`, one UTC day
  per call, numeric cents, `is_remote` rows, subscription users absent;
- Enterprise Analytics (§1.5): `/v1/organizations/analytics/users` and `/summaries`.

Keys: the Admin key reaches the Admin and beta endpoints, the `read:analytics` key the
Enterprise and beta ones (§1.1); others get 401, the wrong kind 403, in Anthropic's error
envelope. Faults as the checklist of §1.8 has them: 429 with `retry-after` past 60 requests
a minute on the Analytics APIs, 410 for an expired cursor, 400 for a cursor reused with
changed parameters and for a day past the latest served day, injected 429/500/529, slow
responses and dropped connections, and a restated day (`restate`).

Only `1d` buckets (or none) are served: the generator's ground truth is daily, and an
hourly split would be invented.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from simulation.billing import TOKEN_TYPES, WEB_SEARCH_NANO, BillingData, Usage, cents_of
from simulation.local_server import ApiError, LocalServer

ANTHROPIC_VERSION = "2023-06-01"
BETA = "analytics-usage-cost-2026-08-24"
FAST_MODE_BETA = "fast-mode-2026-02-01"
ADMIN, ANALYTICS = "admin", "analytics"
EARLIEST = date(2026, 1, 1)  # the Analytics APIs have no data before (§1.5)
MAX_RANGE = timedelta(days=31)
TOP_GROUPS = 100
ANALYTICS_REQUESTS_PER_MINUTE = 60
CURSOR_TTL_SECONDS = 600.0
COST_GROUPS = (
    "actor",
    "actor_type",
    "context_window",
    "inference_geo",
    "model",
    "organization_id",
    "product",
    "rbac_group_id",
    "service_tier",
    "speed",
    "workspace_id",
    "cost_type",
    "token_type",
)
USAGE_GROUPS = COST_GROUPS[:-2]
# Documented group fields the generator has nothing behind (sessions per model, agents,
# deployments...): asking for them is a 400 here, not a silent null.
UNSERVED_GROUPS = frozenset(
    {
        "agent_id",
        "api_key_id",
        "claude_tag_category",
        "claude_tag_user_id",
        "deployment_id",
        "environment_id",
        "session_id",
        "slack_channel_id",
        "user_profile_id",
    }
)
BETA_FILTERS = {"actor_ids[]": "actor_id", "models[]": "model", "products[]": "product"}
BETA_PARAMS = frozenset(
    {"starting_at", "ending_at", "time_bucket_width", "group_by[]", "order", "order_by"}
    | {"limit", "page", "exclude_deleted_users", *BETA_FILTERS}
)
LEGACY_PARAMS = frozenset(
    {"starting_at", "ending_at", "bucket_width", "group_by[]", "limit", "page"}
)
MESSAGE_GROUPS = frozenset(
    {
        "account_id",
        "api_key_id",
        "context_window",
        "inference_geo",
        "model",
        "service_account_id",
        "service_tier",
        "speed",
        "workspace_id",
    }
)
TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Input Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write (5m) Input Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write (1h) Input Tokens",
}

Query = dict[str, list[str]]


def _one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def _timestamp(query: Query, name: str) -> datetime | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{name}: invalid RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise _bad(f"{name}: a time zone is required")
    return moment.astimezone(UTC)


def _day_param(query: Query, name: str) -> date | None:
    value = _one(query, name)
    if value is None:
        return None
    try:
        if len(value) != 10:  # a timestamp is refused, not truncated to its day (§1.4)
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} must be a date YYYY-MM-DD") from None


def _only(query: Query, allowed: frozenset[str] | set[str]) -> None:
    """Refuse parameters outside the contract.

    Misnamed ones (ingestr's `group_by[0]`, §1.7) would otherwise be silently ignored.
    """
    unknown = set(query) - allowed
    if unknown:
        raise _bad(f"unknown parameters: {', '.join(sorted(unknown))}")


def _limit(query: Query, default: int, maximum: int) -> int:
    try:
        limit = int(_one(query, "limit") or default)
    except ValueError:
        raise _bad("limit must be an integer") from None
    if not 1 <= limit <= maximum:
        raise _bad(f"limit must be between 1 and {maximum}")
    return limit


def fractional_cents(nano: int) -> str:
    """Nano-dollars as the Analytics APIs' amount: a string in cents, six decimals or more.

    `"41280.000000"` is $412.80 (§1 fact 2); prices with a fraction of ten nano-dollars per
    token need a seventh decimal, which is kept rather than rounded away.
    """
    cents = cents_of(nano)
    six = cents.quantize(Decimal("0.000001"))
    return f"{six:f}" if six == cents else f"{cents.normalize():f}"


def legacy_cents(nano: int) -> str:
    """Nano-dollars as the legacy `cost_report` amount: cents with as few decimals as exact."""
    cents = cents_of(nano)
    return "0" if not cents else f"{cents.normalize():f}"


@dataclass(frozen=True)
class _Line:
    """One billed amount with every group field the beta API can split it by."""

    fields: dict[str, object]
    usage: Usage
    token_type: str | None  # None: web search
    amount_nano: int


def _model_name(model: str) -> str:
    """`claude-sonnet-4-6` -> `Claude Sonnet 4.6`, as `cost_report` descriptions name models."""
    family, *version = model.removeprefix("claude-").split("-")
    return f"Claude {family.capitalize()} {'.'.join(version)}"


class BillingEmulator(LocalServer):
    """The HTTP server; use as a context manager or call `start` / `stop`.

    Args:
        data: the billed view served.
        port: 0 for any free port.
        admin_api_key: the Console Admin key accepted (None: any key, of both kinds).
        analytics_api_key: the Enterprise `read:analytics` key accepted.
        beta_available: False makes the beta endpoints unavailable to the organisation, so
            clients must fall back to the legacy ones.
        beta_unavailable_status: 403 or 404, what the beta endpoints then answer.
        revision: 0 serves the restated day as the first pull sees it, 1 as revised.
        fault_rate: the share of requests given a random injected fault.
        seed: seeds the random faults.
        scripted_faults: faults at given request numbers (1-based): "429", "500", "529",
            "slow" or "drop".
        analytics_requests_per_minute: the Analytics APIs' budget per organisation.
        cursor_ttl_seconds: how long an opaque cursor stays valid (then 410).
        clock: monotonic seconds, injectable so tests can expire cursors without waiting.
        served_through: the latest day the APIs serve (default: the data's last day); the
            days after the data up to it are served as days without usage (a demo of a
            past period pulled today).
    """

    def __init__(
        self,
        data: BillingData,
        *,
        port: int = 0,
        admin_api_key: str | None = None,
        analytics_api_key: str | None = None,
        beta_available: bool = True,
        beta_unavailable_status: int = 404,
        revision: int = 0,
        fault_rate: float = 0.0,
        seed: int = 0,
        scripted_faults: dict[int, str] | None = None,
        retry_after_seconds: float = 1.0,
        slow_seconds: float = 0.3,
        analytics_requests_per_minute: int = ANALYTICS_REQUESTS_PER_MINUTE,
        cursor_ttl_seconds: float = CURSOR_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        served_through: date | None = None,
    ):
        if beta_unavailable_status not in (403, 404):
            raise ValueError("beta_unavailable_status must be 403 or 404")
        self.data = data
        self.served_through = max(served_through or data.watermark, data.watermark)
        self.keys = {admin_api_key: ADMIN, analytics_api_key: ANALYTICS}
        self.keys.pop(None, None)
        self.beta_available = beta_available
        self.beta_unavailable_status = beta_unavailable_status
        self.revision = revision
        self.fault_rate = fault_rate
        self.scripted_faults = scripted_faults or {}
        self.retry_after_seconds = retry_after_seconds
        self.slow_seconds = slow_seconds
        self.analytics_requests_per_minute = analytics_requests_per_minute
        self.cursor_ttl_seconds = cursor_ttl_seconds
        self.clock = clock
        self.requests = 0
        # Every request by its path, whatever was answered (benchmarks and tests read it).
        self.requests_by_path: Counter[str] = Counter()
        self._lines_of: dict[int, list[_Line]] = {}
        self.faults_injected: dict[str, int] = {}
        self._faults = random.Random(seed)
        self._recent: list[float] = []
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[Callable[[Query, dict[str, str]], dict], frozenset]] = {
            "/v1/organizations/analytics/cost": (self._beta_cost, frozenset({ADMIN, ANALYTICS})),
            "/v1/organizations/analytics/usage": (self._beta_usage, frozenset({ADMIN, ANALYTICS})),
            "/v1/organizations/cost_report": (self._cost_report, frozenset({ADMIN})),
            "/v1/organizations/usage_report/messages": (self._messages, frozenset({ADMIN})),
            "/v1/organizations/usage_report/claude_code": (self._claude_code, frozenset({ADMIN})),
            "/v1/organizations/analytics/users": (self._users, frozenset({ANALYTICS})),
            "/v1/organizations/analytics/summaries": (self._summaries, frozenset({ANALYTICS})),
        }
        super().__init__(self._handler(), port, "billing-emulator")

    def restate(self) -> None:
        """Publish the revision of the restated day: later pulls see the revised amount."""
        self.revision = 1

    @property
    def data_refreshed_at(self) -> str:
        """When the served revision was computed."""
        return _iso(self.data.refreshed_at[min(self.revision, 1)])

    # -- the request pipeline ---------------------------------------------------------------

    def respond(self, path: str, query: Query, headers: dict[str, str]) -> tuple[int, dict, dict]:
        """Answer one GET: (status, JSON body, extra headers).

        Faults that are not a status ("slow", "drop") go back to the handler as the extra
        header `x-emulator-fault`, which it removes before answering.
        """
        extra: dict[str, str] = {}
        with self._lock:
            self.requests_by_path[path.rstrip("/")] += 1
        try:
            kind = self.keys.get(headers.get("x-api-key", ""))
            if not headers.get("x-api-key") or (self.keys and kind is None):
                raise ApiError(401, "authentication_error", "invalid x-api-key")
            if headers.get("anthropic-version") != ANTHROPIC_VERSION:
                raise _bad(f"anthropic-version: {ANTHROPIC_VERSION} is required")
            route = self._routes.get(path.rstrip("/"))
            if route is None:
                raise ApiError(404, "not_found_error", f"Unknown endpoint {path}")
            handler, kinds = route
            if kind is not None and kind not in kinds:
                raise ApiError(403, "permission_error", "This key cannot read this endpoint")
            is_beta = handler in (self._beta_cost, self._beta_usage)
            betas = {b.strip() for b in headers.get("anthropic-beta", "").split(",")}
            if is_beta and BETA not in betas:
                raise _bad(f"this endpoint requires the anthropic-beta header {BETA}")
            if is_beta and not self.beta_available:
                status = self.beta_unavailable_status
                error = "permission_error" if status == 403 else "not_found_error"
                raise ApiError(status, error, "Usage and Cost Analytics is not available")
            if path.startswith("/v1/organizations/analytics/"):
                extra = self._budget()
            fault = self._draw_fault()
            if fault in ("slow", "drop"):
                extra["x-emulator-fault"] = fault
            elif fault == "429":
                after = {"retry-after": f"{self.retry_after_seconds:g}"}
                raise ApiError(429, "rate_limit_error", "Rate limited", after)
            elif fault == "500":
                raise ApiError(500, "api_error", "Internal server error")
            elif fault == "529":
                raise ApiError(529, "overloaded_error", "Overloaded")
            return 200, handler(query, headers), extra
        except ApiError as error:
            body = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
            return error.status, body, {**extra, **error.headers}

    def _budget(self) -> dict[str, str]:
        """Count a request against the Analytics APIs' per-minute budget (§1.5)."""
        now = self.clock()
        with self._lock:
            self._recent = [moment for moment in self._recent if now - moment < 60]
            self._recent.append(now)
            remaining = self.analytics_requests_per_minute - len(self._recent)
            reset = 60 - (now - self._recent[0])
        headers = {
            "anthropic-ratelimit-requests-limit": str(self.analytics_requests_per_minute),
            "anthropic-ratelimit-requests-remaining": str(max(remaining, 0)),
        }
        if remaining < 0:
            headers["retry-after"] = str(int(reset) + 1)
            raise ApiError(429, "rate_limit_error", "Rate limit exceeded", headers)
        return headers

    def _draw_fault(self) -> str | None:
        with self._lock:
            self.requests += 1
            fault = self.scripted_faults.get(self.requests)
            if fault is None:
                if self._faults.random() >= self.fault_rate:
                    return None
                fault = self._faults.choice(("429", "500", "529", "slow", "drop"))
            self.faults_injected[fault] = self.faults_injected.get(fault, 0) + 1
            return fault

    # -- opaque cursors -----------------------------------------------------------------------

    def _page(self, rows: list[dict], query: Query, default: int, maximum: int) -> dict:
        """One page of `rows` behind an opaque cursor bound to the query's other parameters.

        A cursor older than `cursor_ttl_seconds` is a 410; one reused with changed
        parameters is a 400 (§1.5).
        """
        limit = _limit(query, default, maximum)
        digest = hashlib.sha256(
            json.dumps(
                sorted((k, v) for k, v in query.items() if k not in ("page", "limit"))
            ).encode()
        ).hexdigest()[:16]
        offset = 0
        if token := _one(query, "page"):
            try:
                cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
                offset, bound, issued = int(cursor["o"]), str(cursor["q"]), float(cursor["t"])
            except (ValueError, KeyError, TypeError):
                raise _bad("invalid page cursor") from None
            if self.clock() - issued > self.cursor_ttl_seconds:
                raise ApiError(410, "invalid_request_error", "The page cursor has expired")
            if bound != digest:
                raise _bad("The page cursor was issued for different parameters")
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        token = None
        if more:
            cursor = {"o": offset + limit, "q": digest, "t": self.clock()}
            token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        return {"data": page, "has_more": more, "next_page": token}

    # -- the Usage and Cost Analytics API (beta) ----------------------------------------------

    def _lines(self) -> list[_Line]:
        """Every billed amount of the served revision, built once per revision."""
        with self._lock:
            cached = self._lines_of.get(self.revision)
        if cached is None:
            cached = self._build_lines()
            with self._lock:
                self._lines_of[self.revision] = cached
        return cached

    def _build_lines(self) -> list[_Line]:
        lines = []
        for usage in self.data.rows(self.revision):
            member = self.data.members[usage.account_id]
            fields: dict[str, object] = {
                "actor": {
                    "type": "user_actor",
                    "user_id": member.account_id,
                    "email_address": member.email,
                    "name": member.name,
                    "deleted": False,
                },
                "actor_type": "user",
                "actor_id": member.account_id,
                "context_window": "0-200k",
                "inference_geo": "global",
                "model": usage.model,
                "organization_id": self.data.organization_id,
                "product": usage.product,
                "rbac_group_id": usage.rbac_group_id,
                "service_tier": "standard",
                "speed": "standard",  # OTel says `normal` (§1 fact 6)
                "workspace_id": None,  # the default workspace
            }
            for kind, amount in usage.token_costs().items():
                if usage.tokens[kind]:
                    typed = fields | {"cost_type": "tokens", "token_type": kind}
                    lines.append(_Line(typed, usage, kind, amount))
            if usage.web_search_requests:
                typed = fields | {"cost_type": "web_search", "token_type": None}
                amount = usage.web_search_requests * WEB_SEARCH_NANO
                lines.append(_Line(typed, usage, None, amount))
        return lines

    def _beta_range(self, query: Query) -> tuple[datetime, datetime]:
        start = _timestamp(query, "starting_at")
        if start is None:
            raise _bad("starting_at is required")
        end = _timestamp(query, "ending_at") or min(
            start + MAX_RANGE, _midnight(self.served_through + timedelta(days=1))
        )
        if start.date() < EARLIEST:
            raise _bad(f"starting_at must be on or after {EARLIEST.isoformat()}")
        if end <= start:
            raise _bad("ending_at must be after starting_at")
        if end - start > MAX_RANGE:
            raise _bad("the range must not exceed 31 days")
        return start, end

    def _beta(self, query: Query, metric: str) -> dict:
        _only(query, BETA_PARAMS)
        start, end = self._beta_range(query)
        width = _one(query, "time_bucket_width")
        if width not in (None, "1d"):
            raise _bad("time_bucket_width: this emulator serves 1d buckets only")
        group_by = query.get("group_by[]", [])
        allowed = COST_GROUPS if metric == "cost" else USAGE_GROUPS
        for name in group_by:
            if name in UNSERVED_GROUPS:
                raise _bad(f"group_by {name}: not served by this emulator")
            if name not in allowed:
                raise _bad(f"group_by: invalid value {name}")
        lines = [
            line
            for line in self._lines()
            if start <= _midnight(line.usage.day) < end
            and all(
                str(line.fields[field]) in query[param]
                for param, field in BETA_FILTERS.items()
                if param in query
            )
        ]
        if metric == "usage":  # one usage line per billed row, not one per token type
            lines = list({id(line.usage): line for line in lines}.values())
        buckets: dict[tuple[datetime, datetime], list[_Line]] = defaultdict(list)
        for line in lines:
            if width:
                bucket = (_midnight(line.usage.day), _midnight(line.usage.day + timedelta(1)))
            else:
                bucket = (start, end.replace(minute=0, second=0, microsecond=0))
            buckets[bucket].append(line)
        rows = []
        for (bucket_start, bucket_end), members in sorted(buckets.items()):
            grouped = self._grouped(members, group_by, metric)
            for group, value, sort_key in grouped[: TOP_GROUPS if group_by else None]:
                rows.append(
                    {
                        "starting_at": _iso(bucket_start),
                        "ending_at": _iso(bucket_end),
                        "group": group,
                        metric: value,
                        "_rank": sort_key,
                    }
                )
        order_by = _one(query, "order_by")
        if order_by not in (None, "amount", "list_amount", "total_tokens"):
            raise _bad(f"order_by: invalid value {order_by}")
        descending = (_one(query, "order") or ("desc" if order_by else "asc")) == "desc"
        if order_by:
            rows.sort(key=lambda row: row["_rank"], reverse=descending)
        elif descending:
            rows.reverse()
        for row in rows:
            del row["_rank"]
        # The beta's `limit` default and maximum are unpublished (§1.6 [UNCONFIRMED]): these
        # are the Enterprise `/users` ones.
        body = self._page(rows, query, 100, 1000)
        body["data_refreshed_at"] = self.data_refreshed_at
        return body

    def _grouped(
        self, lines: list[_Line], group_by: list[str], metric: str
    ) -> list[tuple[dict, dict, int]]:
        """Each group's (group fields, metrics, ranking value), largest first."""
        groups: dict[str, list[_Line]] = defaultdict(list)
        for line in lines:
            groups[json.dumps([line.fields[name] for name in group_by])].append(line)
        result = []
        for members in groups.values():
            group = {name: members[0].fields[name] for name in group_by}
            usages = list({id(line.usage): line.usage for line in members}.values())
            requests = sum(usage.requests for usage in usages)
            if metric == "cost":
                nano = sum(line.amount_nano for line in members)
                value = {
                    "amount": fractional_cents(nano),
                    "list_amount": fractional_cents(nano),  # no negotiated discount
                    "currency": "USD",
                    "requests": requests,
                }
                result.append((group, value, nano))
            else:
                value = _usage_metrics(usages)
                result.append((group, value, value["total_tokens"]))
        result.sort(key=lambda item: (-item[2], json.dumps(item[0])))
        return result

    def _beta_cost(self, query: Query, headers: dict[str, str]) -> dict:
        return self._beta(query, "cost")

    def _beta_usage(self, query: Query, headers: dict[str, str]) -> dict:
        return self._beta(query, "usage")

    # -- the legacy Admin API -----------------------------------------------------------------

    def _buckets(self, query: Query, default: int, maximum: int) -> tuple[list[date], str | None]:
        """The day buckets of a legacy report page, and the `page_…` token of the next.

        Buckets are UTC days, oldest first, empty ones included and counted against `limit`;
        the token is base64 of the next bucket's start, as Anthropic's example decodes.
        """
        _only(query, LEGACY_PARAMS | {"models[]", "account_ids[]"})
        if (_one(query, "bucket_width") or "1d") != "1d":
            raise _bad("bucket_width: this emulator serves 1d buckets only")
        limit = _limit(query, default, maximum)
        start = _timestamp(query, "starting_at")
        if start is None:
            raise _bad("starting_at is required")
        first = start.date()  # snapped to the UTC day
        end = _timestamp(query, "ending_at")
        last = (end - timedelta(microseconds=1)).date() if end else self.served_through
        if token := _one(query, "page"):
            try:
                first = datetime.fromisoformat(
                    base64.b64decode(token.removeprefix("page_")).decode().replace("Z", "+00:00")
                ).date()
            except ValueError:
                raise _bad("invalid page token") from None
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        page = days[:limit]
        following = None
        if len(days) > limit:
            following = "page_" + base64.b64encode(_iso(_midnight(days[limit])).encode()).decode()
        return page, following

    def _cost_report(self, query: Query, headers: dict[str, str]) -> dict:
        group_by = query.get("group_by[]", [])
        if not set(group_by) <= {"workspace_id", "description"}:
            raise _bad("group_by: only workspace_id and description are accepted")
        days, following = self._buckets(query, 7, 31)
        by_day: dict[date, list[_Line]] = defaultdict(list)
        for line in self._lines():
            by_day[line.usage.day].append(line)
        data = []
        for day in days:
            groups: dict[tuple, int] = defaultdict(int)
            for line in by_day.get(day, []):
                groups[self._cost_key(line, group_by)] += line.amount_nano
            results = [
                {**dict(key), "amount": legacy_cents(nano), "currency": "USD"}
                for key, nano in sorted(groups.items(), key=lambda item: str(item[0]))
            ]
            data.append(_day_bucket(day, results))
        return {"data": data, "has_more": following is not None, "next_page": following}

    @staticmethod
    def _cost_key(line: _Line, group_by: list[str]) -> tuple:
        """The dimension fields of a cost result: null unless grouped by them (§1.3)."""
        described = "description" in group_by
        if described and line.token_type is None:
            description = "Web Search"
        elif described:
            description = f"{_model_name(line.usage.model)} Usage - {TOKEN_LABELS[line.token_type]}"
        else:
            description = None
        return (
            ("workspace_id", None),
            ("description", description),
            ("cost_type", line.fields["cost_type"] if described else None),
            ("model", line.usage.model if described else None),
            ("token_type", line.token_type if described else None),
            ("service_tier", "standard" if described else None),
            ("context_window", "0-200k" if described else None),
            ("inference_geo", "global" if described else None),
        )

    def _messages(self, query: Query, headers: dict[str, str]) -> dict:
        group_by = query.get("group_by[]", [])
        for name in group_by:
            if name not in MESSAGE_GROUPS:
                raise _bad(f"group_by: invalid value {name}")
        if "speed" in group_by and FAST_MODE_BETA not in headers.get("anthropic-beta", ""):
            raise _bad(f"group_by speed requires the anthropic-beta header {FAST_MODE_BETA}")
        days, following = self._buckets(query, 7, 31)
        models, accounts = query.get("models[]"), query.get("account_ids[]")
        by_day: dict[date, list[Usage]] = defaultdict(list)
        for usage in self.data.rows(self.revision):
            if (models is None or usage.model in models) and (
                accounts is None or usage.account_id in accounts
            ):
                by_day[usage.day].append(usage)
        data = []
        for day in days:
            groups: dict[tuple, list[Usage]] = defaultdict(list)
            for usage in by_day.get(day, []):
                dimensions = {
                    "account_id": usage.account_id,
                    "api_key_id": None,
                    "workspace_id": None,
                    "service_account_id": None,
                    "model": usage.model,
                    "service_tier": "standard",
                    "context_window": "0-200k",
                    "inference_geo": "global",
                    "speed": "standard",
                }
                key = tuple((k, v if k in group_by else None) for k, v in dimensions.items())
                groups[key].append(usage)
            results = []
            for key, usages in sorted(groups.items(), key=lambda item: str(item[0])):
                metrics = _usage_metrics(usages)
                del metrics["requests"], metrics["total_tokens"]
                results.append({**metrics, **dict(key)})
            data.append(_day_bucket(day, results))
        return {"data": data, "has_more": following is not None, "next_page": following}

    # -- Claude Code Analytics ----------------------------------------------------------------

    def _claude_code(self, query: Query, headers: dict[str, str]) -> dict:
        _only(query, {"starting_at", "limit", "page"})
        day = _day_param(query, "starting_at")
        if day is None:
            raise _bad("starting_at is required")
        records = []
        for row in self.data.claude_code_rows(day, self.revision):
            records.append(
                {
                    "date": _iso(_midnight(day)),
                    "actor": {"type": "user_actor", "email_address": row.member.email},
                    "organization_id": self.data.organization_uuid,
                    "customer_type": "api",
                    "subscription_type": None,
                    "terminal_type": "vscode",
                    "is_remote": row.is_remote,
                    "core_metrics": {
                        "num_sessions": row.sessions,
                        # The simulated clients change no code: nothing to count.
                        "lines_of_code": {"added": 0, "removed": 0},
                        "commits_by_claude_code": 0,
                        "pull_requests_by_claude_code": 0,
                    },
                    # Rejections per tool are not in the generator's ground truth.
                    "tool_actions": {
                        "edit_tool": {"accepted": row.edits_accepted, "rejected": 0},
                        "write_tool": {"accepted": row.writes_accepted, "rejected": 0},
                    },
                    "model_breakdown": [
                        {
                            "model": usage.model,
                            "tokens": {
                                "input": usage.tokens["uncached_input_tokens"],
                                "output": usage.tokens["output_tokens"],
                                "cache_read": usage.tokens["cache_read_input_tokens"],
                                "cache_creation": usage.tokens[TOKEN_TYPES[3]]
                                + usage.tokens[TOKEN_TYPES[4]],
                            },
                            # A JSON number in cents (§1 fact 2).
                            "estimated_cost": {
                                "amount": float(usage.estimated_cents()),
                                "currency": "USD",
                            },
                        }
                        for usage in row.models
                    ],
                }
            )
        return self._page(records, query, 20, 1000)

    # -- Enterprise Analytics -----------------------------------------------------------------

    def _served_day(self, day: date, name: str) -> date:
        if day < EARLIEST:
            raise _bad(f"{name} must be on or after {EARLIEST.isoformat()}")
        if day > self.served_through:
            latest = self.served_through.isoformat()
            raise _bad(f"{name} is past the latest available day, {latest}")
        return day

    def _range(self, query: Query, maximum: timedelta) -> tuple[date, date]:
        """The first and last day of `starting_date` (inclusive) to `ending_date` (exclusive).

        `ending_date` defaults to the latest available day + 1 (§1.5 docs).
        """
        first = _day_param(query, "starting_date")
        if first is None:
            raise _bad("starting_date is required")
        self._served_day(first, "starting_date")
        end = _day_param(query, "ending_date") or self.served_through + timedelta(days=1)
        last = self._served_day(end - timedelta(days=1), "ending_date")
        if not first <= last or end - first > maximum:
            raise _bad(f"the range must be 1 to {maximum.days} days")
        return first, last

    def _users(self, query: Query, headers: dict[str, str]) -> dict:
        _only(query, {"date", "starting_date", "ending_date", "limit", "page", "filter[]"})
        if (one := _day_param(query, "date")) is not None:
            if "starting_date" in query or "ending_date" in query:
                raise _bad("date cannot be combined with starting_date or ending_date")
            first = last = self._served_day(one, "date")
        else:
            # A rollup: distinct counts summed here, approximate (HyperLogLog) in the API.
            first, last = self._range(query, timedelta(days=366))
        filters: dict[str, set[str]] = defaultdict(set)
        for item in query.get("filter[]", []):
            name, _, value = item.partition(":")
            if name not in ("user_id", "rbac_group_id"):
                raise _bad(f"filter: invalid dimension {name}")
            filters[name].add(value)
        rows: dict[str, list] = defaultdict(list)
        for activity in self.data.activity:
            dimensions = {
                "user_id": activity.member.account_id,
                "rbac_group_id": activity.rbac_group_id,
            }
            wanted = all(dimensions[name] in values for name, values in filters.items())
            if wanted and first <= activity.day <= last:
                rows[activity.member.account_id].append(activity)
        records = [_user_record(days, first, last) for _, days in sorted(rows.items())]
        return self._page(records, query, 100, 1000)

    def _summaries(self, query: Query, headers: dict[str, str]) -> dict:
        # `limit` and `page` are accepted, but the series comes whole (next_page null).
        _only(query, {"starting_date", "ending_date", "limit", "page"})
        _limit(query, 100, 1000)
        first, last = self._range(query, MAX_RANGE)
        active: dict[date, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for activity in self.data.activity:
            if activity.sessions:
                active[activity.day][activity.member.product].add(activity.member.account_id)

        def users(until: date, days: int, product: str | None = None) -> int:
            seen: set[str] = set()
            for offset in range(days):
                for name, accounts in active.get(until - timedelta(offset), {}).items():
                    if product in (None, name):
                        seen |= accounts
            return len(seen)

        seats = len(self.data.members)
        data = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(offset)
            counts = {
                f"{product}{window}_active_user_count": users(
                    day, days, product.removesuffix("_") or None
                )
                for product in ("", "cowork_", "claude_code_")
                for window, days in (("daily", 1), ("weekly", 7), ("monthly", 30))
            }
            data.append(
                {
                    "starting_at": _iso(_midnight(day)),
                    "ending_at": _iso(_midnight(day + timedelta(1))),
                    **counts,
                    "assigned_seat_count": seats,
                    "pending_invite_count": 0,  # the generator invites no one
                    **{
                        # DAU (WAU, MAU) / assigned seats * 100, as the docs define them.
                        f"{window}_adoption_rate": round(
                            counts[f"{window}_active_user_count"] / seats * 100, 2
                        )
                        if seats
                        else None
                        for window in ("daily", "weekly", "monthly")
                    },
                }
            )
        return {"data": data, "next_page": None}

    # -- serving --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, delayed ACKs add ~40 ms
            # to every kept-alive request, and a 61-request rate-limit test takes seconds.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet; the key travels in a header, never in the request line

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, body, extra = emulator.respond(parsed.path, parse_qs(parsed.query), headers)
                fault = extra.pop("x-emulator-fault", None)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "slow":
                    time.sleep(emulator.slow_seconds)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _day_bucket(day: date, results: list[dict]) -> dict:
    """A legacy report's bucket: one UTC day, its results (empty when nothing was used)."""
    return {
        "starting_at": _iso(_midnight(day)),
        "ending_at": _iso(_midnight(day + timedelta(1))),
        "results": results,
    }


def _usage_metrics(usages: list[Usage]) -> dict:
    """The usage block of the beta API and the legacy messages report (§1.6, spec §5.2)."""
    total = {kind: sum(usage.tokens[kind] for usage in usages) for kind in TOKEN_TYPES}
    return {
        "uncached_input_tokens": total["uncached_input_tokens"],
        "cache_read_input_tokens": total["cache_read_input_tokens"],
        "cache_creation": {
            "ephemeral_5m_input_tokens": total[TOKEN_TYPES[3]],
            "ephemeral_1h_input_tokens": total[TOKEN_TYPES[4]],
        },
        "output_tokens": total["output_tokens"],
        "server_tool_use": {
            "web_search_requests": sum(usage.web_search_requests for usage in usages)
        },
        "requests": sum(usage.requests for usage in usages),
        "total_tokens": sum(total.values()),
    }


def _user_record(days: list, first: date, last: date) -> dict:
    """One `/analytics/users` record: a person's day, or a rollup summed over the range."""
    member = days[0].member
    coding = member.product == "claude_code"
    calls: dict[str, int] = defaultdict(int)
    for activity in days:
        for tool, count in activity.tool_calls.items():
            calls[tool] += count
    sessions = sum(activity.sessions for activity in days)
    prompts = sum(activity.prompts for activity in days)
    actions = sum(activity.tool_results for activity in days)
    servers = {tool.split("__")[1] for tool in calls if tool.startswith("mcp__") and calls[tool]}
    record: dict = {
        "user": {"id": member.account_id, "email_address": member.email},
        "chat_metrics": {
            "distinct_conversation_count": sum(activity.chats_created for activity in days)
        },
        "claude_code_metrics": {
            "core_metrics": {
                "commit_count": 0,
                "distinct_session_count": sessions if coding else 0,
                "lines_of_code": {"added_count": 0, "removed_count": 0},
                "pull_request_count": 0,
            },
            "tool_actions": {
                "edit_tool": {
                    "accepted_count": calls["Edit"] if coding else 0,
                    "rejected_count": 0,
                },
                "write_tool": {
                    "accepted_count": calls["Write"] if coding else 0,
                    "rejected_count": 0,
                },
            },
        },
        "cowork_metrics": {
            "action_count": 0 if coding else actions,
            "connectors_used_count": 0 if coding else len(servers),
            "dispatch_turn_count": 0,  # Dispatch is not simulated
            "distinct_session_count": 0 if coding else sessions,
            "file_edit_count": 0 if coding else calls["Edit"] + calls["Write"],
            "message_count": 0 if coding else prompts,
            "skills_used_count": 0 if coding else calls["Skill"],
        },
    }
    if first == last:
        return {"date": first.isoformat(), **record}
    ending = last + timedelta(days=1)  # exclusive, as the request's
    return {"starting_date": first.isoformat(), "ending_date": ending.isoformat(), **record}
