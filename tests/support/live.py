"""Run an ASGI app on a real socket in a background thread, for tests that talk HTTP; and a
whole site (the runtime as ``serve`` builds it, the upstream simulator) for end-to-end tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy import Engine

from adapter.api import server as http_server
from adapter.bootstrap import build_app
from adapter.demo import insured_regions, load_catalogues
from adapter.settings import load_settings
from adapter.settings_sections import HttpSettings
from adapter.store.migrate import upgrade
from adapter.store.tokens import create_token
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.support.ports import free_port


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


@dataclass(frozen=True)
class RunningSite:
    base: str  # the REST API
    port: int  # the MLLP listener
    headers: dict[str, str]  # a token of the roles asked for
    simulator: SimulatorServer
    runtime: Runtime


@contextmanager
def running_site(
    db_url: str, engine: Engine, operator: str, roles: Sequence[str]
) -> Iterator[RunningSite]:
    """The adapter as ``serve`` runs it over ``db_url`` (migrated, the catalogues loaded), the
    upstream simulator, one upload worker polling every 0.2 s, and a token for ``roles``."""
    upgrade(engine)
    with start_simulator() as simulator:
        settings = load_settings(database={"url": db_url})
        settings = settings.model_copy(
            update={
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "hl7": settings.hl7.model_copy(update={"port": free_port()}),
                "queue": settings.queue.model_copy(update={"workers": 1, "poll_seconds": 0.2}),
            }
        )
        runtime = build_runtime(settings)
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        load_catalogues(runtime.engine, runtime.gateway, "110100", insured_regions(today))
        token = create_token(runtime.engine, operator, list(roles), datetime.now(UTC))
        with serving(build_app(settings, runtime)) as base:
            headers = {"Authorization": f"Bearer {token}"}
            yield RunningSite(base, settings.hl7.port, headers, simulator, runtime)
