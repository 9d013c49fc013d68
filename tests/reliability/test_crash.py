"""kill -9 of ``wi-adapter serve`` during a burst of settlements and uploads, then a restart.

The adapter runs as IT runs it (a ``serve`` process on SQLite or PostgreSQL) against the
simulator as its own process, which outlives every kill and drops a fifth of its replies
after committing the write. Two desks settle stays over REST while the adapter is killed at
random moments; after the last restart:

* every settlement the adapter acknowledged (201) is there, unchanged;
* every upload job is delivered, and upstream saw each msgid take effect exactly once
  (``/_sim/received`` stores one write per msgid): nothing lost, nothing duplicated;
* each settled stay has exactly one discharge record (WI2301) upstream.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.reliability.support import (
    AdapterProcess,
    Desk,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually
from upload_queue.admin import list_jobs

KILLS = 2


def _burst(
    desk: Desk, prefix: str, acked: list[dict[str, Any]], failed: list[str], stop: threading.Event
) -> None:
    """Stays until the adapter dies under us; acknowledged settlements go to ``acked``."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            acked.append(desk.stay(f"{prefix}-{n}"))
        except httpx.TransportError:
            return  # killed mid-stay: that stay's outcome is unknown to the desk
        except AssertionError as exc:  # a refusal the desk would see: the test fails on it
            failed.append(str(exc))
            return


@pytest.mark.slow
def test_kill_9_during_settlements_loses_nothing_and_uploads_each_msgid_once(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    rng = random.Random(20250917)
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        simulator.faults(drop_reply_after_commit_rate=0.2, latency_ms=5)
        adapter = AdapterProcess(db_url, simulator.url, tmp_path)
        acked: list[dict[str, Any]] = []
        failed: list[str] = []
        try:
            for i in range(KILLS):
                adapter.start()
                desk = Desk(adapter.base, token, sim_url=simulator.url)
                stop = threading.Event()
                desks = [
                    threading.Thread(target=_burst, args=(desk, f"R{i}D{d}", acked, failed, stop))
                    for d in range(2)
                ]
                for thread in desks:
                    thread.start()
                # kill at a random moment once this round has settled a few stays
                target = len(acked) + rng.randint(2, 6)
                eventually(lambda t=target: len(acked) >= t or failed, 60, "stays settled")
                assert failed == []
                threading.Event().wait(rng.uniform(0.0, 0.5))  # a random point, not a result
                adapter.kill9()
                stop.set()
                for thread in desks:
                    thread.join(timeout=60)
                    assert not thread.is_alive()
                assert failed == []

            simulator.faults()  # the last run delivers without faults, so it ends
            adapter.start()
            desk = Desk(adapter.base, token, sim_url=simulator.url)
            eventually(desk.drained, 90, "every upload delivered after the restart")

            for settlement in acked:
                reply = desk.call("GET", f"/api/v1/settlements/{settlement['id']}")
                assert reply.status_code == 200, reply.text
                assert reply.json()["status"] == "settled"
                assert reply.json()["total"] == settlement["total"]
        finally:
            adapter.stop()

        jobs = list_jobs(engine, limit=10_000)
        assert jobs and {job.status for job in jobs} == {"delivered"}
        writes = simulator.writes()
        by_msgid = Counter(w["msgid"] for w in writes)
        assert set(by_msgid) == {job.idempotency_key for job in jobs}  # nothing lost
        assert max(by_msgid.values()) == 1  # each msgid stored once upstream
        refused = [(w["infno"], w["reply"].get("err_msg")) for w in writes if not w["took_effect"]]
        assert refused == []
        discharges = Counter(w["input"]["mdtrt_id"] for w in writes if w["infno"] == "WI2301")
        assert all(count == 1 for count in discharges.values()), discharges
        assert {s["encounter_id"] for s in acked} <= set(discharges)

        # the test proved something: kills landed after deliveries began, and replies were lost
        assert len(acked) >= KILLS * 2
        assert any(w["times_received"] > 1 for w in writes), "no write was re-sent"
