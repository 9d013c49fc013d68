"""A proxy between the adapter and the simulator that holds upstream's reply to chosen calls.

The adapter is pointed at the proxy (``upstream_url``); every call is forwarded to the
simulator as it is. A call whose ``infno`` (the path, ``POST /{infno}``) is in ``hold`` is
forwarded too — upstream has answered it, and for a write, taken effect — but its reply is
kept back until :meth:`HoldingProxy.release`: the adapter is then between upstream's reply and
its own commit, where a test kills it. :attr:`held` counts the replies being kept back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.support.ports import free_port


class HoldingProxy:
    def __init__(self, target: str, hold: set[str]) -> None:
        self.target = target
        self.hold = set(hold)
        self.held = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, hold: set[str]) -> None:
        """Hold the replies to ``hold`` from now on (again), until the next release."""
        self.held = 0
        self._released.clear()
        self.hold = set(hold)

    def release(self) -> None:
        """Let every held reply (and every later one) go."""
        self.hold.clear()
        self._released.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _forward(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                reply = httpx.request(
                    self.command,
                    f"{proxy.target}{self.path}",
                    headers=headers,
                    content=body,
                    timeout=120,
                )
                if self.path.strip("/").split("?")[0] in proxy.hold:
                    with proxy._lock:
                        proxy.held += 1
                    proxy._released.wait(120)
                self.send_response(reply.status_code)
                for key, value in reply.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the adapter was killed meanwhile
                    self.wfile.write(reply.content)

            do_GET = do_POST = _forward

        return Handler

    @contextmanager
    def running(self) -> Iterator[HoldingProxy]:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            server.shutdown()
            server.server_close()
