"""A local emulator of Anthropic's Compliance API, serving a generated organisation.

It speaks real HTTP on 127.0.0.1 (stdlib `ThreadingHTTPServer`), with the documented
shapes, both pagination schemes and their `limit` maxima, `x-api-key` auth, rate-limit
headers, and injected faults drawn from a seed: 429 with `retry-after`, 500, 529, slow
responses and dropped connections.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from simulation.local_server import ApiError, LocalServer

PREFIX = "/v1/compliance"
ALL_SCOPES = frozenset(
    {"read:compliance_activities", "read:compliance_user_data", "read:compliance_org_data"}
)
REQUESTS_PER_MINUTE = 600


def required_scope(route: str) -> str:
    """The scope an endpoint needs (spec §4.2)."""
    if route.startswith("/activities"):
        return "read:compliance_activities"
    if route in ("/organizations", "/groups") or route.endswith("/roles"):
        return "read:compliance_org_data"
    return "read:compliance_user_data"


@dataclass
class EmulatorData:
    """The records served, as the generator wrote them (`compliance/*.json`)."""

    organizations: list[dict]
    users: list[dict]
    groups: list[dict]
    members: list[dict]
    roles: list[dict]
    activities: list[dict]  # newest first
    sessions_local: list[dict]  # newest first
    chats: list[dict] = field(default_factory=list)  # oldest first
    projects: list[dict] = field(default_factory=list)
    activity_index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> EmulatorData:
        """Read a generator's `compliance/` folder."""

        def read(name: str) -> list[dict]:
            return json.loads((directory / f"{name}.json").read_text())

        data = cls(
            organizations=read("organizations"),
            users=read("users"),
            groups=read("groups"),
            members=read("group_members"),
            roles=read("roles"),
            activities=read("activities"),
            sessions_local=read("sessions_local"),
            chats=read("chats"),
            projects=read("projects"),
        )
        data.activity_index = {
            activity["id"]: index for index, activity in enumerate(data.activities)
        }
        return data


def _limit(query: dict[str, str], default: int, maximum: int) -> int:
    try:
        limit = int(query.get("limit", default))
    except ValueError:
        raise ApiError(400, "invalid_request_error", "limit must be an integer") from None
    if not 1 <= limit <= maximum:
        raise ApiError(400, "invalid_request_error", f"limit must be between 1 and {maximum}")
    return limit


def _page_token(
    records: list[dict], query: dict[str, str], default: int, maximum: int, has_more_field: bool
) -> dict:
    """The `page` / `next_page` scheme; the token is an opaque offset."""
    limit = _limit(query, default, maximum)
    try:
        start = int(query.get("page") or 0)
    except ValueError:
        raise ApiError(400, "invalid_request_error", "invalid page token") from None
    page = records[start : start + limit]
    more = start + limit < len(records)
    body: dict = {"data": page, "next_page": str(start + limit) if more else None}
    if has_more_field:
        body["has_more"] = more
    return body


def _activities(data: EmulatorData, query: dict[str, str]) -> dict:
    """The cursor scheme: newest first; `after_id` goes older, `before_id` newer."""
    return _cursor_page(data.activities, query, 100, 5000)


def _cursor_page(records: list[dict], query: dict[str, str], default: int, maximum: int) -> dict:
    """`after_id` continues in the list's order, `before_id` goes back.

    The `created_at.gte` / `created_at.lt` filters apply first.
    """
    limit = _limit(query, default, maximum)
    if query.get("after_id") and query.get("before_id"):
        raise ApiError(400, "invalid_request_error", "only one of after_id and before_id")
    if gte := query.get("created_at.gte"):
        records = [r for r in records if r["created_at"] >= gte]
    if lt := query.get("created_at.lt"):
        records = [r for r in records if r["created_at"] < lt]
    index = {record["id"]: position for position, record in enumerate(records)}
    if cursor := query.get("after_id"):
        if cursor not in index:
            raise ApiError(400, "invalid_request_error", "invalid cursor")
        candidates = records[index[cursor] + 1 :]
        page, more = candidates[:limit], len(candidates) > limit
    elif cursor := query.get("before_id"):
        if cursor not in index:
            raise ApiError(400, "invalid_request_error", "invalid cursor")
        candidates = records[: index[cursor]]
        page, more = candidates[-limit:], len(candidates) > limit
    else:
        page, more = records[:limit], len(records) > limit
    return {
        "data": page,
        "has_more": more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }


class ComplianceEmulator(LocalServer):
    """The HTTP server; use as a context manager or call `start` / `stop`."""

    def __init__(
        self,
        data: EmulatorData,
        *,
        port: int = 0,
        api_key: str | None = None,
        fault_rate: float = 0.0,
        seed: int = 0,
        retry_after_seconds: float = 1.0,
        slow_seconds: float = 0.3,
        scopes: frozenset[str] = ALL_SCOPES,
        requests_per_minute: int = REQUESTS_PER_MINUTE,
        scripted_faults: dict[int, str] | None = None,
    ):
        self.data = data
        self.api_key = api_key
        self.fault_rate = fault_rate
        self.retry_after_seconds = retry_after_seconds
        self.slow_seconds = slow_seconds
        self.scopes = scopes
        self.requests_per_minute = requests_per_minute
        # Faults at given request numbers (1-based), on top of the random ones: a test can
        # put a 429 exactly in the middle of a pagination.
        self.scripted_faults = scripted_faults or {}
        self._recent: list[float] = []  # request times in the last minute (the shared budget)
        self._faults = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.faults_injected: dict[str, int] = {}
        super().__init__(self._handler(), port, "compliance-emulator")

    def _route(self, path: str, query: dict[str, str]) -> dict:
        data = self.data
        if not path.startswith(PREFIX):
            raise ApiError(404, "not_found_error", "Not found")
        route = path[len(PREFIX) :].rstrip("/")
        if route == "/activities":
            return _activities(data, query)
        if route == "/apps/chats":
            return _cursor_page(data.chats, query, 100, 1000)
        if route == "/apps/projects":
            return _page_token(data.projects, query, 20, 100, True)
        if route == "/organizations":
            return _page_token(data.organizations, query, 100, 1000, True)
        if route == "/groups":
            return _page_token(data.groups, query, 100, 1000, True)
        if route == "/apps/sessions/local":
            return _page_token(data.sessions_local, query, 100, 500, False)
        parts = route.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "organizations" and parts[2] in ("users", "roles"):
            if parts[1] not in {org["uuid"] for org in data.organizations}:
                raise ApiError(404, "not_found_error", "Organization not found")
            if parts[2] == "users":
                return _page_token(data.users, query, 500, 1000, True)
            return _page_token(data.roles, query, 100, 1000, True)
        if len(parts) == 3 and parts[0] == "groups" and parts[2] == "members":
            if parts[1] not in {group["id"] for group in data.groups}:
                raise ApiError(404, "not_found_error", "Group not found")
            members = [m for m in data.members if m["group_id"] == parts[1]]
            shaped = [{k: v for k, v in m.items() if k != "group_id"} for m in members]
            return _page_token(shaped, query, 100, 1000, True)
        raise ApiError(404, "not_found_error", f"Unknown endpoint {route}")

    def _budget(self) -> tuple[int, float]:
        """Count this request against the per-minute budget: (remaining, seconds to reset)."""
        now = time.monotonic()
        with self._lock:
            self._recent = [t for t in self._recent if now - t < 60]
            self._recent.append(now)
            remaining = self.requests_per_minute - len(self._recent)
            reset = 60 - (now - self._recent[0])
        return remaining, reset

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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet, and the request line never holds the key anyway

            def _send(self, status: int, body: dict, headers: dict[str, str]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
                self.send_header("anthropic-ratelimit-requests-limit", "600")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
                key = self.headers.get("x-api-key")
                try:
                    if not key or (emulator.api_key is not None and key != emulator.api_key):
                        raise ApiError(401, "authentication_error", "invalid x-api-key")
                    remaining, reset = emulator._budget()
                    budget = {
                        "anthropic-ratelimit-requests-remaining": str(max(remaining, 0)),
                        "anthropic-ratelimit-requests-reset": time.strftime(
                            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + reset)
                        ),
                    }
                    if remaining < 0:
                        budget["retry-after"] = str(int(reset) + 1)
                        raise ApiError(429, "rate_limit_error", "Rate limit exceeded", budget)
                    route = parsed.path[len(PREFIX) :].rstrip("/")
                    needed = required_scope(route)
                    if needed not in emulator.scopes:
                        got = ", ".join(sorted(emulator.scopes))
                        raise ApiError(
                            403,
                            "permission_error",
                            f"Missing required scopes. Got: [{got}] Needed: [{needed}]",
                        )
                    fault = emulator._draw_fault()
                    if fault == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault == "slow":
                        time.sleep(emulator.slow_seconds)
                    if fault == "429":
                        raise ApiError(
                            429,
                            "rate_limit_error",
                            "Rate limited",
                            {"retry-after": f"{emulator.retry_after_seconds:g}"},
                        )
                    if fault == "500":
                        raise ApiError(
                            500, "api_error", "Internal server error", {"x-should-retry": "true"}
                        )
                    if fault == "529":
                        raise ApiError(529, "overloaded_error", "Overloaded")
                    self._send(200, emulator._route(parsed.path, query), budget)
                except ApiError as error:
                    body = {
                        "type": "error",
                        "error": {"type": error.error_type, "message": error.message},
                    }
                    self._send(error.status, body, error.headers)

        return Handler
