"""The upstream side of the queue-drain benchmark (:mod:`benchmarks.queue_drain`): the
simulator (``connectors.upstream.simulator``) in its own process, reached over HTTP through the
reference-dialect client, and what it can answer with no queue in front of it.

``python -m benchmarks.queue_drain_upstream`` serves the simulator (see :func:`serve`); the
benchmark starts it so, as :class:`Simulator`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from adapter.domain.upstream import Infno, make_msgid
from benchmarks.common import percentile
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig

INSTITUTION = "H11010000001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
KIND = Infno.DEVICE_FUNDS_CONFIRM  # WI3301: a write the simulator accepts any number of
INPUT = {"month": "2026-10", "amount": "1234.56"}


def serve() -> None:
    """Run the simulator app on a free port of 127.0.0.1; print its URL; serve until killed.

    The same app and seed as :func:`start_simulator`, but the listening socket is made with
    ``IPPROTO_TCP``: asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` says TCP,
    and ``start_simulator`` makes its socket with ``proto`` 0, so there every reply waits
    ~40 ms (Nagle against the client's delayed ACK) between its headers and its body.
    """
    import uvicorn

    from connectors.upstream.clock import SystemClock
    from connectors.upstream.simulator import SimState, create_app, demo_seed

    clock = SystemClock()
    state = SimState(clock=clock, base_seed=demo_seed(clock.now().date()), random_seed=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(create_app(state), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class Simulator:
    """The simulator subprocess: ``url``, ``faults()``, ``reset()``, ``received()``; its
    ``process`` (whose CPU time :class:`~benchmarks.queue_drain_cpu.Meter` reads)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.queue_drain_upstream"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        self.http = httpx.Client(base_url=self.url, timeout=30)
        bound = time.monotonic() + 30
        while True:
            try:
                self.http.get("/_sim/received", params={"msgid": "-"})
                break
            except httpx.TransportError:
                if time.monotonic() > bound or self.process.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.05)

    def faults(self, **faults: Any) -> None:
        self.http.post("/_sim/faults", json=faults).raise_for_status()

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def received(self, msgid: str = "") -> list[dict[str, Any]]:
        writes: list[dict[str, Any]] = self.http.get(
            "/_sim/received", params={"msgid": msgid} if msgid else {}
        ).json()["writes"]
        return writes

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def client_config(url: str) -> UpstreamConfig:
    return UpstreamConfig(
        base_url=url,
        institution_code=INSTITUTION,
        institution_name="示例工伤协议医院",
        treatment_admdvs="110100",
        write_timeout_s=10.0,
    )


def write_msgid(day: date, run: int, n: int) -> str:
    at = datetime(day.year, day.month, day.day, 1, 0) + timedelta(minutes=run, seconds=n // 10_000)
    return make_msgid(INSTITUTION, at, n % 10_000)


def ceiling(simulator: Simulator, callers: int, latency_ms: float, seconds: float) -> float:
    """Writes/s the simulator answers to ``callers`` threads sharing one client (no queue)."""
    simulator.reset()
    simulator.faults(latency_ms=int(latency_ms))
    client = ReferenceClient.from_config(client_config(simulator.url))
    client.sign_in()
    day = datetime.now(SHANGHAI).date()
    counter = iter(range(10**9))
    lock = threading.Lock()
    done = [0]
    stop_at = time.monotonic() + seconds

    def call() -> None:
        while time.monotonic() < stop_at:
            with lock:
                n = next(counter)
            client.submit(KIND, write_msgid(day, 900, n), INPUT, insuplc_admdvs="310100")
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=call) for _ in range(callers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = done[0] / (time.perf_counter() - began)
    client.close()
    return rate


def shipped_round_trip() -> float:
    """Median round trip (ms) of one write to the simulator as ``start_simulator`` serves it."""
    from connectors.upstream.simulator import start_simulator

    day = datetime.now(SHANGHAI).date()
    with start_simulator(today=day) as server:
        client = ReferenceClient.from_config(client_config(server.url))
        client.sign_in()
        samples = []
        for n in range(20):
            began = time.perf_counter()
            client.submit(KIND, write_msgid(day, 901, n), INPUT, insuplc_admdvs="310100")
            samples.append(time.perf_counter() - began)
        client.close()
    return percentile(samples, 0.5) * 1000


if __name__ == "__main__":
    serve()
