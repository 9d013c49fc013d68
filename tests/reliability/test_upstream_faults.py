"""Upstream outage, slow upstream and lost replies, on the real runtime over HTTP.

The adapter is built as ``serve`` builds it (:func:`build_runtime`, :func:`build_app`) on a
real socket, against the simulator over real HTTP, in the two-part layout the settings allow:
an instance that serves the desks (``queue.workers = 0``) and one that delivers, started when
the test says so — so settlements can be waiting in the queue when the fault begins (settling
itself reads upstream: N§33). Only the delivering queue's back-off is shortened (a
:class:`RetryPolicy` of a fraction of a second instead of 5 s doubling to 10 minutes), so
recovery is seen in seconds.

For each fault: while it lasts, a clerk waiting on an upstream read gets a clear Chinese
problem+json 503, and the uploads wait (retried, pending, not dead). After recovery every
upload is delivered, and upstream saw each msgid take effect exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import Settings
from adapter.wiring.runtime import Runtime, build_runtime
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.reliability.support import Desk, prepare
from tests.support.live import serving, simulated_settings
from tests.support.polling import eventually
from upload_queue.admin import list_jobs
from upload_queue.retry import RetryPolicy

QUICK_RETRIES = RetryPolicy(base=timedelta(milliseconds=300), cap=timedelta(seconds=1))


@dataclass
class Live:
    desk: Desk
    settings: Settings
    simulator: SimulatorServer
    engine: Engine
    delivering: Runtime | None = None

    def deliver(self) -> None:
        """Start the instance that delivers uploads (the serving one has no workers)."""
        runtime = build_runtime(
            self.settings.model_copy(update={"queue": self.settings.queue.model_copy(
                update={"workers": 2})}),
            hl7=False,
        )  # fmt: skip
        assert runtime.runner is not None
        for worker in runtime.runner.workers:
            worker.policy = QUICK_RETRIES
        runtime.start()
        self.delivering = runtime

    def faults(self, **faults: Any) -> None:
        self.simulator_post("/_sim/faults", faults)

    def simulator_post(self, path: str, body: dict[str, Any]) -> None:
        import httpx

        assert httpx.post(f"{self.simulator.url}{path}", json=body).status_code == 200

    def writes(self) -> list[dict[str, Any]]:
        import httpx

        return list(httpx.get(f"{self.simulator.url}/_sim/received").json()["writes"])


@pytest.fixture
def live(db_url: str, engine: Engine) -> Iterator[Live]:
    with start_simulator() as simulator:
        token = prepare(db_url, simulator.url)
        settings = simulated_settings(
            db_url,
            simulator.url,
            upstream={"write_timeout_s": 1.0, "read_budget_s": 1.5, "read_timeout_s": 1.0},
            hl7={"enabled": False},
            queue={"workers": 0, "poll_seconds": 0.2},
        )
        with serving(build_app(settings, build_runtime(settings))) as base:
            live = Live(Desk(base, token, sim_url=simulator.url), settings, simulator, engine)
            try:
                yield live
            finally:
                if live.delivering is not None:
                    live.delivering.stop()


def _admitted(desk: Desk, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        reply = desk.admit(f"{prefix}{n}")
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
        assert desk.fees(ids[-1]).status_code in (200, 201)
    return ids


def _settled(desk: Desk, encounter_ids: list[str]) -> list[dict[str, Any]]:
    settled = []
    for encounter_id in encounter_ids:
        reply = desk.settle(encounter_id)
        assert reply.status_code == 201, reply.text  # committed locally, upstream or not
        settled.append(reply.json())
    return settled


def _assert_clear_503(reply: Any) -> None:
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    message = reply.json()["errors"][0]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message  # read to the worker


def _assert_each_upload_once(live: Live, settled: list[dict[str, Any]]) -> list[dict[str, Any]]:
    eventually(live.desk.drained, 60, "every upload delivered after recovery")
    jobs = list_jobs(live.engine, limit=10_000)
    assert {job.status for job in jobs} == {"delivered"}
    writes = live.writes()
    by_msgid = Counter(w["msgid"] for w in writes)
    assert set(by_msgid) == {job.idempotency_key for job in jobs}
    assert max(by_msgid.values()) == 1
    assert all(w["took_effect"] for w in writes), [w["reply"] for w in writes]
    discharged = Counter(w["input"]["setl_id"] for w in writes if w["infno"] == "WI2301")
    assert discharged == Counter(s["id"] for s in settled)
    return writes


def _waiting_after_failures(live: Live, admissions: int) -> list[Any]:
    """Each stay's first upload (its admission) has been tried twice and waits to be tried
    again; the later ones wait behind it (one encounter's uploads go in order)."""

    def retried() -> list[Any] | None:
        jobs = list_jobs(live.engine, limit=1000)
        first = [job for job in jobs if job.kind == "WI2401"]
        if len(first) == admissions and all(job.total_attempts >= 2 for job in first):
            return jobs
        return None

    jobs = eventually(retried, 45, "uploads retried during the fault")
    assert {job.status for job in jobs} <= {"pending", "in_flight"}  # not dead, not delivered
    return jobs


def test_an_outage_delays_uploads_and_delivers_each_exactly_once_after_it(live: Live) -> None:
    *encounters, unsettled = _admitted(live.desk, 4, "OUT")
    settled = _settled(live.desk, encounters)
    live.faults(outage=True)
    _assert_clear_503(live.desk.admit("OUT-DOWN"))  # identity needs upstream (B§28)
    _assert_clear_503(live.desk.settle(unsettled))  # so does the filing check (N§33)
    live.deliver()
    pending = _waiting_after_failures(live, 4)
    assert Counter(job.kind for job in pending) == {"WI2401": 4, "WI2301": 3}

    live.faults()
    writes = _assert_each_upload_once(live, settled)
    assert len(writes) == 7
    assert live.desk.settle(unsettled).status_code == 201  # clerks work again


def test_a_slow_upstream_beyond_the_budget_times_out_and_still_delivers_once(live: Live) -> None:
    settled = _settled(live.desk, _admitted(live.desk, 3, "SLOW"))
    live.faults(latency_ms=2500)  # past write_timeout_s (1 s) and read_budget_s (1.5 s)
    _assert_clear_503(live.desk.admit("SLOW-WAIT"))
    live.deliver()
    waiting = _waiting_after_failures(live, 3)
    timed_out = [job.last_error for job in waiting if job.kind == "WI2401"]
    assert all("响应超时" in (error or "") for error in timed_out), timed_out  # what IT reads

    live.faults()
    _assert_each_upload_once(live, settled)


def test_replies_lost_after_upstream_committed_are_resent_and_applied_once(live: Live) -> None:
    live.faults(drop_reply_after_commit_rate=0.6)
    live.deliver()
    settled = _settled(live.desk, _admitted(live.desk, 6, "LOST"))
    writes = _assert_each_upload_once(live, settled)
    assert len(writes) == 12  # six admissions, six discharge records
    assert any(w["times_received"] > 1 for w in writes), "no reply was lost: the fault did not bite"
