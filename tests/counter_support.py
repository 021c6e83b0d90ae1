"""A counter's staff-call endpoint on 127.0.0.1 for the tests: a real HTTP server in a thread
that records each call and answers with the status the test sets (or never, when hanging)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counter(ThreadingHTTPServer):
    """The counter's endpoint: answers each POST with `status` (or never, when `hang`; with
    the status and headers but a body that never comes, when `stall_body`)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 200
        self.hang = False
        self.stall_body = False
        self.release = threading.Event()
        self.bodies: list[dict[str, object]] = []
        self.content_types: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/kiosk-call"


class _Handler(BaseHTTPRequestHandler):
    server: Counter

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.server.content_types.append(self.headers.get("Content-Type", ""))
        if self.server.hang:
            self.server.release.wait(30)  # until the test ends; the client gives up first
            return
        self.send_response(self.server.status)
        if self.server.status in (301, 302, 307):
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "100" if self.server.stall_body else "0")
        self.end_headers()
        if self.server.stall_body:
            self.wfile.flush()
            self.server.release.wait(30)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@contextmanager
def serve_counter() -> Iterator[Counter]:
    """A running Counter, shut down (and any hanging answer released) on exit."""
    server = Counter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
