"""A hostile Compliance API on 127.0.0.1: each test scripts what its endpoints answer.

Real HTTP (stdlib `ThreadingHTTPServer`), so slow bodies, wrong content types and echoed
headers reach the client exactly as a misbehaving server or proxy would send them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# A client that loops gets this status after so many requests: the test then fails on its
# assertions instead of hanging (or spending a real organisation's budget).
REQUEST_CAP = 200
NEWEST = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Reply:
    """One scripted answer: a JSON body unless `body` is already text or bytes."""

    body: object = None
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drip_seconds: float = 0.0  # pause before each byte of the body: a server at a crawl

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


EMPTY = Reply({"data": [], "has_more": False, "next_page": None, "first_id": None, "last_id": None})
Route = Callable[[dict[str, str], dict[str, str]], Reply]


def activity(number: int, **fields: object) -> dict:
    """A real-shaped activity (spec §4.5); a higher number is older."""
    created = NEWEST - timedelta(minutes=number)
    record: dict = {
        "id": f"activity_{number:04d}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "organization_id": "org_01Wv6QeBcDfGhJkLmNpQrSt8",
        "organization_uuid": "abcdef01-2345-6789-abcd-ef0123456789",
        "type": "claude_chat_created",
        "actor": {
            "type": "user_actor",
            "email_address": f"user{number}@example.com",
            "user_id": f"user_{number:04d}",
            "ip_address": "192.0.2.34",
            "user_agent": "Mozilla/5.0",
        },
        "claude_chat_id": f"claude_chat_{number:04d}",
    }
    record.update(fields)
    return record


def cursor_page(records: list, has_more: bool, last_id: str | None) -> Reply:
    """A page of the `after_id` cursor scheme (activities, chats)."""
    ids = [r.get("id") if isinstance(r, dict) else None for r in records] or [None]
    return Reply({"data": records, "has_more": has_more, "first_id": ids[0], "last_id": last_id})


class HostileServer:
    """Serves `routes` (path -> answer); every other path is an empty last page."""

    def __init__(self, routes: dict[str, Route] | None = None):
        self.routes = routes or {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, path: str) -> int:
        """Requests made to `path` so far."""
        return sum(1 for seen, _ in self.requests if seen == path)

    def _answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append((path, query))
            if len(self.requests) > REQUEST_CAP:
                return Reply({"error": {"type": "gone", "message": "request cap"}}, status=410)
        route = self.routes.get(path)
        return route(query, headers) if route else EMPTY

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = server._answer(parsed.path, query, headers)
                payload = reply.payload()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if not reply.drip_seconds:
                        self.wfile.write(payload)
                        return
                    for index in range(len(payload)):
                        if server._stopping.wait(reply.drip_seconds):
                            return
                        self.wfile.write(payload[index : index + 1])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up on us, as it should

        return Handler

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
