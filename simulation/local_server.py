"""What the API emulators share: a threaded HTTP server on 127.0.0.1 and Anthropic's errors."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class ApiError(Exception):
    """An answer in Anthropic's error envelope: status, error type, message, extra headers."""

    def __init__(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.headers = headers or {}


class LocalServer:
    """A server on 127.0.0.1 (port 0: any free one); a context manager or `start` / `stop`.

    Subclasses call `__init__` with their request handler class and a thread name.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int, name: str):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._name = name

    @property
    def url(self) -> str:
        """The base URL to point a client at."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
