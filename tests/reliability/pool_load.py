"""Many clerks while upstream is slow: the scenario of ``test_slow_upstream_load.py``, reusable.

``wi-adapter serve`` (as IT runs it, with the connection pool at SQLAlchemy's stock size of 5
plus 10 overflow, where the fault was found) in front of the simulator answering every
transaction after ``latency_ms``; ``clients`` desks each admit a stay, record its fees and
settle it, again and again, for ``seconds``. Then the latency is lifted, the upload queue
drains, the adapter stops (flushing anything its call log still holds) and :func:`run`
reports what the clerks saw and what the database kept:

* every answer's status, and any that is not a success or a clear 503 problem+json (a 500,
  a plain-text error, no answer at all) as a problem;
* each settle whose client gave up waiting (its time-out) and, of those, each that the
  adapter committed anyway;
* every transaction the simulator received against the rows of the upstream call log.

The test runs it for a minute on each database; ``python -m scripts.soak.load --slow-upstream``
runs it for as long as asked.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from adapter.store.db import make_engine
from tests.reliability.support import (
    AdapterProcess,
    Desk,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually
from tests.support.workers import worker_for

STOCK_POOL = {"ADAPTER_DATABASE__POOL_SIZE": "5", "ADAPTER_DATABASE__MAX_OVERFLOW": "10"}


@dataclass
class LoadReport:
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)  # encounters whose settle timed out
    settled_after_giving_up: list[str] = field(default_factory=list)
    stays: int = 0
    slowest_s: float = 0.0
    calls_received: int = 0  # by the simulator
    call_log_rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, what: str, reply: httpx.Response, seconds: float) -> bool:
        """Count ``reply``; True for a success."""
        clear = reply.status_code == 503 and reply.headers.get("content-type", "").startswith(
            "application/problem+json"
        )
        code = reply.json()["errors"][0]["code"] if clear else ""
        with self.lock:
            self.statuses[f"{what} {reply.status_code} {code}".strip()] += 1
            self.slowest_s = max(self.slowest_s, seconds)
            if reply.status_code < 300:
                return True
            if not clear:
                self.problems.append(f"{what}: {reply.status_code} {reply.text[:300]}")
            return False

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{k} ×{v}" for k, v in sorted(self.statuses.items()))
        return [
            f"stays settled: {self.stays}; answers: {statuses}",
            f"slowest answer: {self.slowest_s:.1f} s; settles given up by their client: "
            f"{len(self.gave_up)}, of which committed anyway: {len(self.settled_after_giving_up)}",
            f"transactions received by upstream: {self.calls_received}; call-log rows: "
            f"{self.call_log_rows}",
        ]


def _timed(report: LoadReport, what: str, call: httpx.Response | None, began: float) -> bool:
    assert call is not None
    return report.saw(what, call, time.monotonic() - began)


def desk_loop(desk: Desk, prefix: str, card: str, end: float, report: LoadReport) -> None:
    n = 0
    while time.monotonic() < end:
        n += 1
        step, encounter_id = "admit", ""
        try:
            began = time.monotonic()
            admitted = desk.admit(f"{prefix}-{n}", card)
            if not _timed(report, "admit", admitted, began):
                continue
            encounter_id = str(admitted.json()["id"])
            step = "fees"
            began = time.monotonic()
            if not _timed(report, "fees", desk.fees(encounter_id), began):
                continue
            step = "settle"
            began = time.monotonic()
            if _timed(report, "settle", desk.settle(encounter_id), began):
                with report.lock:
                    report.stays += 1
        except httpx.TimeoutException:
            with report.lock:
                if step == "settle":
                    report.gave_up.append(encounter_id)
                report.problems.append(
                    f"{prefix}-{n}: {step} not answered within the client's wait"
                )
        except httpx.TransportError as exc:
            with report.lock:
                report.problems.append(f"{prefix}-{n}: {step}: the adapter did not answer: {exc!r}")


def run(
    db_url: str,
    folder: Path,
    *,
    seconds: float = 60.0,
    clients: int = 16,
    latency_ms: int = 400,
    client_timeout_s: float = 30.0,
) -> LoadReport:
    report = LoadReport()
    with simulator_process(folder) as simulator:
        token = prepare(db_url, simulator.url)
        adapter = AdapterProcess(db_url, simulator.url, folder, env=dict(STOCK_POOL))
        try:
            adapter.start()
            # one worker per desk: one open stay per worker and kind (N§33, B§28)
            cards = [worker_for(simulator.url, f"pool-load-P{i}") for i in range(clients)]
            simulator.faults(latency_ms=latency_ms)
            end = time.monotonic() + seconds
            threads = [
                threading.Thread(
                    target=desk_loop,
                    args=(
                        Desk(adapter.base, token, timeout=client_timeout_s),
                        f"P{i}",
                        cards[i],
                        end,
                        report,
                    ),
                    daemon=True,
                )
                for i in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + 4 * client_timeout_s)
            simulator.faults()
            desk = Desk(adapter.base, token)
            eventually(desk.drained, 300, "the upload queue to drain")
        finally:
            adapter.stop()  # SIGTERM: the runtime flushes its call log
        report.calls_received = int(
            httpx.get(f"{simulator.url}/_sim/requests", timeout=10).json()["count"]
        )
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            report.call_log_rows = int(
                connection.execute(text("SELECT count(*) FROM upstream_call")).scalar_one()
            )
            for encounter_id in report.gave_up:
                status = connection.execute(
                    text("SELECT status FROM encounter WHERE id = :id"), {"id": encounter_id}
                ).scalar_one_or_none()
                if status == "settled":
                    report.settled_after_giving_up.append(encounter_id)
    finally:
        engine.dispose()
    return report
