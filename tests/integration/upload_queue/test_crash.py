"""Crash: a process enqueuing and delivering is SIGKILLed at random moments and restarted.

At the end every job was delivered, upstream saw each idempotency key's effect exactly once
(it dedupes by key, as the real one does), and the jobs of one ordering key took effect
in enqueue order.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine

from upload_queue.admin import list_jobs

ROOT = Path(__file__).resolve().parents[3]
JOBS = 200
LATENCY_S = 0.005  # upstream's own latency, so a kill lands mid-burst
KEYS = 7


class Upstream:
    """Remembers every request; applies each idempotency key's effect once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.effects: list[tuple[str, str]] = []  # (ordering key, idempotency key), applied

    def receive(self, key: str, order: str) -> None:
        with self.lock:
            self.requests.append(key)
            if key not in {applied for _, applied in self.effects}:
                self.effects.append((order, key))


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(LATENCY_S)
            state.receive(body["key"], body["order"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client killed mid-request: expected here, and upstream already recorded it

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/upload"
    finally:
        server.shutdown()
        server.server_close()


def _child(db_url: str, upstream_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.upload_queue.crash_child",
            db_url,
            upstream_url,
            str(JOBS),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_duplicates_no_effect(
    db_url: str, queue_engine: Engine, upstream: tuple[Upstream, str]
) -> None:
    state, url = upstream
    rng = random.Random(20250303)
    kills = 0
    for _ in range(6):
        child = _child(db_url, url)
        try:
            child.wait(timeout=rng.uniform(0.5, 1.5))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            kills += 1
        _, err = child.communicate(timeout=30)
        if child.returncode == 0:
            break
        assert child.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    delivered_before_the_last_start = len(state.requests)
    final = _child(db_url, url)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode(errors="replace")[-2000:]

    jobs = list_jobs(queue_engine, limit=1000)
    assert len(jobs) == JOBS
    assert {job.status for job in jobs} == {"delivered"}
    applied = [key for _, key in state.effects]
    assert sorted(applied) == sorted(f"job-{n}" for n in range(JOBS))  # each effect once
    assert set(state.requests) == set(applied)
    for order in {o for o, _ in state.effects}:
        ns = [int(key.split("-")[1]) for o, key in state.effects if o == order]
        assert ns == sorted(ns), f"{order} took effect out of order: {ns}"
    assert kills >= 1, "the child finished before any kill; the test proved nothing"
    assert delivered_before_the_last_start > 0, "no kill landed after deliveries began"
