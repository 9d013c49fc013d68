"""Run the simulator on a real port, in a background thread of this process.

    server = start_simulator(port=0)          # 0: any free port on 127.0.0.1
    ...  httpx.post(f"{server.url}/WI9001", …)  ...
    server.stop()

The demo starts it on 127.0.0.1:8090; integration tests on a free port. ``stop()`` asks
uvicorn to exit and waits for the thread, so the port is free again when it returns.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date
from typing import Any

import uvicorn

from adapter.domain.ports import Clock
from connectors.upstream.auth import GatewayAuth
from connectors.upstream.clock import SystemClock
from connectors.upstream.simulator.app import create_app
from connectors.upstream.simulator.demo_seed import demo_seed
from connectors.upstream.simulator.state import SimState


class SimulatorServer:
    """A started simulator: ``url``, ``state`` (for in-process inspection) and :meth:`stop`."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket,
                 state: SimState) -> None:  # fmt: skip
        self._server = server
        self._thread = thread
        self._socket = sock
        self.state = state
        host, port = sock.getsockname()[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError(f"the simulator on {self.url} did not stop within {timeout}s")

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: dict[str, Any] | None = None,
    today: date | None = None,
    clock: Clock | None = None,
    auth: GatewayAuth | None = None,
    random_seed: int | None = None,
    startup_timeout: float = 10.0,
) -> SimulatorServer:
    """Start the simulator in a daemon thread and return once it accepts connections.

    ``seed`` defaults to :func:`demo_seed` for ``today`` (default: the clock's today).
    """
    clock = clock or SystemClock()
    if seed is None:
        seed = demo_seed(today or clock.now().date())
    state = SimState(clock=clock, base_seed=seed, random_seed=random_seed)
    app = create_app(state, auth=auth)
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off only on sockets created so, and
    # with Nagle on every reply waits ~40 ms for an ACK that loopback delays.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # log_config=None: uvicorn's default would give its loggers their own plain-text handlers,
    # and in the demo (in process) the adapter's uvicorn lines would leave its JSON log
    config = uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"wi-simulator-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the simulator did not start on {host}:{port}")
        time.sleep(0.01)
    return SimulatorServer(server, thread, sock, state)
