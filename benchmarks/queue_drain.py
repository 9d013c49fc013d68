"""Drain the upload queue after a simulated upstream outage, at 1, 2 and 4 workers.

Workload: ``--jobs`` (default 10,000) jobs enqueued during a 20-minute outage, four per
encounter (ordering key; an encounter's jobs are spread over the outage, as a settlement
and its later corrections are), each due 30 minutes after it was enqueued; then upstream comes
back with ``--latency-ms`` (default 20 ms, like the simulator) per call and the workers
drain. Each worker keeps one delivery in flight, so the bound is ``workers / latency`` jobs/s.

Printed per database and worker count: drain time, jobs/s, share of the bound, ratio to one
worker (same run), share delivered before the deadline, delivery latency p50/p99 (enqueue to
delivered), and whether EDF and per-encounter order were kept: the largest displacement of a
delivery (in the order upstream received them) from earliest-deadline-first order — about
``workers - 1`` when only the calls interleave; on SQLite an occasional single job shows a
larger figure when the commit of its lease ran the WAL auto-checkpoint and so reached
upstream late — and whether any encounter's jobs reached upstream out of order.
No figure is asserted: this prints, it does not judge.

``python -m benchmarks queue_drain`` or ``python -m benchmarks.queue_drain --jobs 2000``.
PostgreSQL runs when ``ADAPTER_TEST_PG_URL`` (or the loopback default) answers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from adapter.store.db import make_engine
from benchmarks.common import machine, percentile
from upload_queue import JobSpec, UploadQueue, enqueue
from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import metadata, upload_job

PG_URL = os.environ.get("ADAPTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
OUTAGE = timedelta(minutes=20)
PER_KEY = 4


def _databases() -> list[tuple[str, str, object]]:
    folder = tempfile.mkdtemp(prefix="queue-bench-")
    found: list[tuple[str, str, object]] = [("SQLite (WAL)", f"sqlite:///{folder}/q.db", None)]
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
        found.append((f"PostgreSQL {version}", PG_URL, admin))
    except OperationalError:
        print(f"(PostgreSQL at {make_url(PG_URL).render_as_string()} unreachable: skipped)")
    return found


def _fresh(url: str, admin: object) -> str:
    if admin is None:
        path = make_url(url).database or ""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return url
    name = f"queue_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:  # type: ignore[attr-defined]
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _drop(url: str, admin: object) -> None:
    if admin is not None:
        with admin.connect() as connection:  # type: ignore[attr-defined]
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))


def one_run(url: str, jobs: int, workers: int, latency: float) -> dict[str, float]:
    engine = make_engine(url)
    metadata.create_all(engine)
    metrics = QueueMetrics(CollectorRegistry())
    start = datetime.now(UTC) - OUTAGE
    with engine.begin() as connection:  # enqueued during the outage, in time order
        for n in range(jobs):
            created = start + OUTAGE * n / jobs
            spec = JobSpec(
                "discharge",
                {"n": n},
                f"job-{n}",
                created + timedelta(minutes=30),
                f"enc-{n % max(jobs // PER_KEY, 1)}",
            )
            enqueue(connection, spec, now=created, metrics=metrics)

    order: list[int] = []
    lock = threading.Lock()

    def upstream(delivery: Delivery) -> None:
        time.sleep(latency)
        with lock:
            order.append(delivery.job_id)

    queue = UploadQueue(engine, registry=metrics.registry, instance_id="bench")
    queue.register("discharge", upstream)
    threads = [threading.Thread(target=queue.worker(i).drain) for i in range(workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began

    with engine.connect() as connection:
        rows = connection.execute(
            select(
                upload_job.c.id,
                upload_job.c.deadline,
                upload_job.c.created_at,
                upload_job.c.delivered_at,
                upload_job.c.ordering_key,
            )
        ).all()
    engine.dispose()
    assert len(order) == jobs == len(rows), "not every job was delivered"
    edf = [row.id for row in sorted(rows, key=lambda r: (r.deadline, r.id))]
    rank = {job_id: index for index, job_id in enumerate(edf)}
    displacement = max(abs(rank[job_id] - position) for position, job_id in enumerate(order))
    key_of = {row.id: row.ordering_key for row in rows}
    by_key: dict[str, list[int]] = {}
    for job_id in order:
        by_key.setdefault(key_of[job_id], []).append(job_id)
    key_order_kept = all(ids == sorted(ids) for ids in by_key.values())
    latencies = [(r.delivered_at - r.created_at).total_seconds() for r in rows]
    on_time = sum(r.delivered_at <= r.deadline for r in rows) / jobs
    return {
        "elapsed": elapsed,
        "rate": jobs / elapsed,
        "bound": workers / latency if latency else float("inf"),
        "on_time": on_time,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "displacement": displacement,
        "key_order": float(key_order_kept),
    }


def run(
    jobs: int = 10_000, latency_ms: float = 20.0, worker_counts: tuple[int, ...] = (1, 2, 4)
) -> None:
    latency = latency_ms / 1000
    print(f"upload queue drain after an outage — {machine()}")
    print(f"{jobs} jobs, {PER_KEY} per encounter, upstream latency {latency_ms:g} ms")
    for label, url, admin in _databases():
        print(f"\n{label}")
        print(
            f"{'workers':>7} {'drain s':>8} {'jobs/s':>8} {'of bound':>8} {'vs 1':>6} "
            f"{'on time':>8} {'lat p50 s':>10} {'lat p99 s':>10} {'EDF disp':>8} key order"
        )
        base = None
        for workers in worker_counts:
            fresh = _fresh(url, admin)
            try:
                r = one_run(fresh, jobs, workers, latency)
            finally:
                _drop(fresh, admin)
            base = base or r["rate"]
            share = r["rate"] / r["bound"] if r["bound"] != float("inf") else 0.0
            print(
                f"{workers:>7} {r['elapsed']:>8.1f} {r['rate']:>8.1f} {share:>8.0%} "
                f"{r['rate'] / base:>6.2f} {r['on_time']:>8.1%} {r['p50']:>10.1f} "
                f"{r['p99']:>10.1f} {int(r['displacement']):>8} "
                f"{'kept' if r['key_order'] else 'BROKEN'}"
            )
        if admin is not None:
            admin.dispose()  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    options = parser.parse_args()
    run(options.jobs, options.latency_ms, tuple(options.workers))
