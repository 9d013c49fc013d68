"""Run an ASGI app on a real socket in a background thread, for tests that talk HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from adapter.api import server as http_server
from adapter.settings import HttpSettings


@contextmanager
def serving(
    app: Any, *, http: HttpSettings | None = None, startup_timeout: float = 15.0
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yield its base URL; stop it afterwards.

    The server is configured as in production (``adapter.api.server``: the head and body
    time-outs, the connection limit) from ``http``, or the default settings. The app's lifespan
    runs, so whatever it starts (the queue runner) starts and stops too.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = http_server.config(app, http or HttpSettings(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
