"""Crash: a process enqueuing and delivering to the upstream simulator is SIGKILLed at random
moments and restarted.

The simulator runs here, in the test process, so it outlives every kill; the child delivers
through the real reference-dialect client and the adapter's own upload handler. The simulator
also loses a fifth of its replies after committing the write, so the child retries writes that
upstream already applied. At the end every job was delivered, and the simulator saw each
idempotency key (msgid) take effect exactly once: it stores one write per msgid with its first
reply, and every one of those replies is a success. Within an encounter the writes only
succeed in enqueue order (admit, rehab plan, revoke), so all-successful also means the order
per key held across the kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from connectors.upstream.clock import FixedClock
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.integration.upload_queue.crash_child import jobs
from upload_queue.admin import list_jobs

ROOT = Path(__file__).resolve().parents[3]
JOBS = 200
IN_FLIGHT = 4  # the child keeps four deliveries going at once, so a kill lands amid several
FAULTS = {"drop_reply_after_commit_rate": 0.2, "latency_ms": 5}  # latency: kills land mid-burst
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def day() -> date:
    """The day of the jobs' msgids, taken once: every child and the final check use it, so a
    run crossing midnight in Shanghai still sees one set of jobs."""
    return datetime.now(SHANGHAI).date()


@pytest.fixture
def simulator(day: date) -> Iterator[SimulatorServer]:
    # Its clock stays on ``day`` too: a sign-in of before midnight stays valid after it.
    noon = FixedClock(datetime.combine(day, time_of_day(12), SHANGHAI))
    server = start_simulator(today=day, clock=noon, random_seed=20250303)
    try:
        assert httpx.post(f"{server.url}/_sim/faults", json=FAULTS).status_code == 200
        yield server
    finally:
        server.stop()


def _writes(simulator: SimulatorServer) -> list[dict[str, Any]]:
    answer = httpx.get(f"{simulator.url}/_sim/received").json()
    assert answer["count"] == len(answer["writes"])
    writes: list[dict[str, Any]] = answer["writes"]
    return writes


def _arrivals(simulator: SimulatorServer) -> int:
    """Writes that reached the simulator so far, repeats included."""
    return sum(write["times_received"] for write in _writes(simulator))


def _child(db_url: str, simulator_url: str, day: date) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.upload_queue.crash_child",
            db_url,
            simulator_url,
            str(JOBS),
            str(IN_FLIGHT),
            day.isoformat(),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_applies_each_msgid_once(
    db_url: str, queue_engine: Engine, simulator: SimulatorServer, day: date
) -> None:
    rng = random.Random(20250303)
    kills = 0
    for _ in range(6):
        child = _child(db_url, simulator.url, day)
        before = _arrivals(simulator)
        bound = time.monotonic() + 30
        while _arrivals(simulator) == before and child.poll() is None:  # until it delivers
            assert time.monotonic() < bound, "the child reached no upstream within 30 s"
            time.sleep(0.01)
        try:  # then kill it at a random moment amid its deliveries
            child.wait(timeout=rng.uniform(0.05, 0.6))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            kills += 1
        _, err = child.communicate(timeout=30)
        if child.returncode == 0:
            break
        assert child.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    received_before_the_last_start = len(_writes(simulator))
    final = _child(db_url, simulator.url, day)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode(errors="replace")[-2000:]

    stored = list_jobs(queue_engine, limit=1000)
    assert len(stored) == JOBS
    assert {job.status for job in stored} == {"delivered"}
    expected = {payload["msgid"]: kind for kind, payload, _ in jobs(JOBS, day)}
    writes = _writes(simulator)
    assert sorted(w["msgid"] for w in writes) == sorted(expected)  # one write per msgid
    refused = [
        (w["infno"], w["msgid"], w["reply"]["err_msg"]) for w in writes if not w["took_effect"]
    ]
    assert refused == []  # each took effect, so each encounter's writes arrived in order
    assert all(w["infno"] == expected[w["msgid"]] for w in writes)
    assert kills >= 1, "the child finished before any kill; the test proved nothing"
    assert received_before_the_last_start > 0, "no kill landed after deliveries began"
    assert any(w["times_received"] > 1 for w in writes), "no write was re-sent: no fault bit"
