"""A local webhook receiver: records every POST, answers scripted statuses."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = re.compile(r"key `([^`]+)`")


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread; `script` is the statuses of the first POSTs.

    After the script runs out every POST gets 200. `headers` are added to 429 answers.
    """

    def __init__(self, script: list[int] | None = None, headers: dict[str, str] | None = None):
        self.script = list(script or [])
        self.headers = headers or {}
        self.requests: list[tuple[int, str, dict[str, Any]]] = []  # status, path, body
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.requests.append((status, self.path, body))
                self.send_response(status)
                extra = receiver.headers if status == 429 else {}
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/services/T0001/B0002/s3cretWebhookToken") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[dict[str, Any]]:
        """Bodies answered 200."""
        return [body for status, _, body in self.requests if status == 200]

    def delivered_keys(self) -> list[str]:
        """The alert key of each delivered body (from its context block)."""
        return [key_of(body) for body in self.delivered()]


def key_of(body: dict[str, Any]) -> str:
    """The alert key a payload names in its context block."""
    text = body["blocks"][-1]["elements"][0]["text"]
    return KEY.search(text).group(1)


def dead_url() -> str:
    """A URL on a local port nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/T0001/B0002/s3cretWebhookToken"
