"""Run an ASGI app on a real socket in a background thread, for tests that talk HTTP; the
adapter's settings over a test's database and the upstream simulator; and a whole site (the
runtime as ``serve`` builds it, the upstream simulator) for end-to-end tests."""

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

import httpx
import uvicorn
from sqlalchemy import Engine

from adapter.api import server as http_server
from adapter.bootstrap import build_app
from adapter.demo import insured_regions, load_catalogues
from adapter.settings import Settings, load_settings
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


def simulator_faults(simulator_url: str, **faults: Any) -> None:
    """Set the simulator's faults (``outage=True``; none given: every fault off)."""
    reply = httpx.post(f"{simulator_url}/_sim/faults", json=faults, timeout=10)
    assert reply.status_code == 200, reply.text


QUICK_WORKER = {"workers": 1, "poll_seconds": 0.2}  # one upload worker, polling often


def adapter_settings(db_url: str, **sections: Any) -> Settings:
    """The settings ``serve`` reads, over ``db_url``. Each keyword updates one section
    (``schedule={"enabled": False}``) or, given other than a dict, sets one plain setting
    (``data_dir=folder``); ``database=`` is read as the file's ``[database]`` is, checked."""
    settings = load_settings(database={"url": db_url, **sections.pop("database", {})})
    update = {
        name: getattr(settings, name).model_copy(update=value) if isinstance(value, dict) else value
        for name, value in sections.items()
    }
    return settings.model_copy(update=update)


def simulated_settings(db_url: str, simulator_url: str, **sections: Any) -> Settings:
    """:func:`adapter_settings` against the upstream (simulator) at ``simulator_url``."""
    upstream = {"base_url": simulator_url, **sections.pop("upstream", {})}
    return adapter_settings(db_url, upstream=upstream, **sections)


def _over(defaults: dict[str, dict[str, Any]], sections: dict[str, Any]) -> dict[str, Any]:
    """``sections`` over ``defaults``, key by key within a section."""
    merged: dict[str, Any] = dict(defaults)
    for name, values in sections.items():
        merged[name] = {**defaults[name], **values} if name in defaults else values
    return merged


@contextmanager
def simulated(
    db_url: str, engine: Engine, **sections: Any
) -> Iterator[tuple[Settings, SimulatorServer]]:
    """The test's database migrated, the upstream simulator running, and the settings of an
    adapter over both: one upload worker polling every 0.2 s; ``sections`` as in
    :func:`adapter_settings`, over those."""
    upgrade(engine)
    with start_simulator() as simulator:
        merged = _over({"queue": QUICK_WORKER}, sections)
        yield simulated_settings(db_url, simulator.url, **merged), simulator


@dataclass(frozen=True)
class RunningSite:
    base: str  # the REST API
    port: int  # the MLLP listener
    headers: dict[str, str]  # a token of the roles asked for
    simulator: SimulatorServer
    runtime: Runtime


@contextmanager
def running_site(
    db_url: str, engine: Engine, operator: str, roles: Sequence[str], **sections: Any
) -> Iterator[RunningSite]:
    """The adapter as ``serve`` runs it over ``db_url`` (migrated, the catalogues loaded), the
    upstream simulator, one upload worker polling every 0.2 s, the MLLP listener on a free
    port, and a token for ``roles``; ``sections`` as in :func:`simulated`."""
    merged = _over({"hl7": {"port": free_port()}}, sections)
    with simulated(db_url, engine, **merged) as (settings, simulator):
        runtime = build_runtime(settings)
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        load_catalogues(runtime.engine, runtime.gateway, "110100", insured_regions(today))
        token = create_token(runtime.engine, operator, list(roles), datetime.now(UTC))
        with serving(build_app(settings, runtime)) as base:
            headers = {"Authorization": f"Bearer {token}"}
            yield RunningSite(base, settings.hl7.port, headers, simulator, runtime)
