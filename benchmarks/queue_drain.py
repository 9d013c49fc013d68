"""Drain the upload queue after an upstream outage, against the upstream simulator.

Everything real: the simulator (``connectors.upstream.simulator``) in its own process, over
HTTP, reached through the reference-dialect client (``ReferenceClient``) and the adapter's own
upload handler (``adapter.wiring.outbox``); the queue on SQLite (WAL) and PostgreSQL.

Workload: ``jobs`` (default 10,000) ``WI3301`` writes enqueued while the simulator is in an
outage (``POST /_sim/faults {"outage": true}``), created over the last 20 minutes, four per
encounter (ordering key), each due 30 minutes after it was created; plus 1% urgent jobs
enqueued last, due 1 to 5 s after upstream returns (EDF must send them first). Then the faults
become ``{"latency_ms": L}`` (default 20 ms) and the workers drain. With ``W`` workers each
keeping ``K`` deliveries in flight (``K = in_flight_total // W``, default 8 in all) the bound is
``W * K / L`` jobs/s.

Workers are threads of one process; on PostgreSQL the largest count runs once more as that
many separate processes (instances sharing the database, each with its own interpreter
lock; "N proc" in the table). Printed per database and worker count: drain time, jobs/s,
share of the bound, ratio to one worker (same run), share delivered before the deadline (all
jobs, and the urgent ones), delivery latency p50/p99 from enqueue (includes the outage) and
of the upstream call alone, CPU use of the adapter process, the simulator process and
PostgreSQL (this run's backends and the server's own processes), the machine's busy share
and the cores everything else kept busy meanwhile (other processes and the kernel: a shared
machine shows here), the largest displacement from earliest-deadline-first in the
order the simulator received the writes, and whether any encounter's writes reached it out
of order. Then, per database, the idle latency: on a running :class:`QueueRunner` with
nothing to do, one job at a time is enqueued (``wake()`` after the commit, as the adapter
does) and the time until the simulator received it is measured.

Before the queue runs, the simulator alone is measured with the same client and N concurrent
callers (its ceiling, so it is not mistaken for the queue's), and a round trip to the simulator
as :func:`start_simulator` serves it is timed (see :func:`.queue_drain_upstream.serve`).

The simulator's side is in :mod:`.queue_drain_upstream`, one drain and the idle latency in
:mod:`.queue_drain_runs`, the CPU figures in :mod:`.queue_drain_cpu`; this module prints.

No figure is asserted: this prints, it does not judge.

``python -m benchmarks queue_drain`` or ``python -m benchmarks.queue_drain --jobs 2000``.
PostgreSQL runs when ``ADAPTER_TEST_PG_URL`` (or the loopback default) answers.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from benchmarks.common import machine, percentile
from benchmarks.queue_drain_runs import (
    PER_KEY,
    URGENT_SHARE,
    drop_fresh_database,
    fresh_database,
    idle_latency,
    one_run,
    reachable_databases,
)
from benchmarks.queue_drain_upstream import SHANGHAI, Simulator, ceiling, shipped_round_trip


def run(
    jobs: int = 10_000,
    latency_ms: float = 20.0,
    worker_counts: tuple[int, ...] = (1, 2, 4),
    in_flight_total: int = 8,
) -> None:
    print(f"upload queue drain after an outage, against the upstream simulator — {machine()}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{datetime.now(SHANGHAI):%Y-%m-%d %H:%M %Z}; load average before: {load}")
    print(
        f"{jobs} jobs ({PER_KEY} per encounter, {URGENT_SHARE:.0%} urgent), simulator latency "
        f"{latency_ms:g} ms, {in_flight_total} deliveries in flight in all "
        f"(bound {in_flight_total / latency_ms * 1000:.0f} jobs/s)"
    )
    simulator = Simulator()
    run_number = 0

    def step() -> int:
        nonlocal run_number
        run_number += 1
        return run_number

    try:
        print(f"\nsimulator alone (one ReferenceClient, no queue, {os.cpu_count()} cores shared):")
        for callers, lat in ((in_flight_total, latency_ms), (2 * in_flight_total, latency_ms),
                             (in_flight_total, 0.0)):  # fmt: skip
            rate = ceiling(simulator, callers, lat, 3.0)
            bound = f"{rate / (callers / lat * 1000):.0%} of its bound" if lat else "CPU-bound"
            print(f"  {callers:>2} callers at {lat:g} ms: {rate:7.1f} writes/s ({bound})")
        print(
            f"  start_simulator() as shipped, one write at 0 ms: "
            f"{shipped_round_trip():.1f} ms per round trip (this benchmark serves the same app "
            f"with TCP_NODELAY)"
        )
        for label, url, admin in reachable_databases():
            _report(label, url, admin, simulator, step, jobs, latency_ms, worker_counts,
                    in_flight_total)  # fmt: skip
            if admin is not None:
                admin.dispose()
    finally:
        simulator.stop()


def _report(
    label: str,
    url: str,
    admin: Engine | None,
    simulator: Simulator,
    step: Callable[[], int],
    jobs: int,
    latency_ms: float,
    worker_counts: tuple[int, ...],
    in_flight_total: int,
) -> None:
    print(f"\n{label}")
    print(
        f"{'workers':>7} {'in fl':>5} {'drain s':>7} {'jobs/s':>7} {'of bound':>8} {'vs 1':>5} "
        f"{'on time':>7} {'urgent':>6} {'lat p50 s':>9} {'p99 s':>6} {'call p50':>8} "
        f"{'p99 ms':>6} {'CPU ms/job: ours':>16} {'sim':>5} {'db':>5} {'busy':>5} {'other':>5} "
        f"{'EDF':>4} "
        "key order"
    )
    base = None
    rates: dict[str, float] = {}
    db_ms: dict[str, float] = {}
    # threads of one process; on PostgreSQL also the most workers as separate instances
    plan = [(workers, False) for workers in worker_counts]
    if admin is not None and max(worker_counts) > 1:
        plan.append((max(worker_counts), True))
    for workers, instances in plan:
        in_flight = max(in_flight_total // workers, 1)
        fresh = fresh_database(url, admin)
        try:
            r = one_run(fresh, simulator, step(), jobs, workers, in_flight, latency_ms, instances)
        finally:
            drop_fresh_database(fresh, admin)
        base = base or r["rate"]
        name = f"{workers} proc" if instances else str(workers)
        rates[name], db_ms[name] = r["rate"], r["cpu_db"]
        print(
            f"{name:>7} {in_flight:>5} {r['elapsed']:>7.1f} {r['rate']:>7.1f} "
            f"{r['rate'] / r['bound']:>8.0%} {r['rate'] / base:>5.2f} {r['on_time']:>7.1%} "
            f"{r['urgent_on_time']:>6.0%} {r['p50']:>9.1f} {r['p99']:>6.1f} "
            f"{r['call_p50']:>8.1f} {r['call_p99']:>6.1f} {r['cpu_ours']:>16.2f} "
            f"{r['cpu_sim']:>5.2f} {r['cpu_db']:>5.2f} {r['busy']:>5.0%} {r['others']:>5.2f} "
            f"{int(r['displacement']):>4} "
            f"{'kept' if r['key_order'] else 'BROKEN'}"
        )
        if r["feasible_on_time"] < 1:
            print(
                f"        jobs that could meet their deadline and did: {r['feasible_on_time']:.2%}"
            )
    if "1" in rates and "4" in rates:
        ratio = rates["4"] / rates["1"]
        if admin is None:
            print(f"  4 workers / 1 worker (same run): {ratio:.2f}")
        else:
            print(
                f"  4 workers / 1 worker (same run): {ratio:.2f} (target ≥ 0.9: "
                f"{'met' if ratio >= 0.9 else 'MISSED'}); PostgreSQL CPU per job: "
                + ", ".join(f"{name} workers {ms:.2f} ms" for name, ms in db_ms.items())
            )
    workers = max(worker_counts)
    in_flight = max(in_flight_total // workers, 1)
    fresh = fresh_database(url, admin)
    try:
        samples = idle_latency(fresh, simulator, step(), workers, in_flight, latency_ms)
    finally:
        drop_fresh_database(fresh, admin)
    print(
        f"  idle: enqueue (commit, wake) → simulator received, {len(samples)} jobs one at a time, "
        f"{workers} workers x {in_flight}: p50 {percentile(samples, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--in-flight", type=int, default=8, help="deliveries in flight in all")
    options = parser.parse_args()
    run(options.jobs, options.latency_ms, tuple(options.workers), options.in_flight)
