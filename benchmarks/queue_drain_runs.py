"""One drain of the queue-drain benchmark (:mod:`benchmarks.queue_drain`), and the idle
latency: the databases it runs on, the outage's backlog enqueued, the workers (threads of this
process, or separate instances) released against the simulator, and what the rows and the
simulator say afterwards.

``python -m benchmarks.queue_drain_runs URL SIMULATOR_URL IN_FLIGHT INDEX`` is one adapter
instance of a drain (see :func:`_drain_instance`); :func:`one_run` starts them so.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import UpstreamUnavailable
from adapter.store.db import make_engine
from adapter.wiring.outbox import register_upload_handlers
from benchmarks.common import percentile
from benchmarks.queue_drain_cpu import Meter, process_cpu
from benchmarks.queue_drain_upstream import (
    INPUT,
    KIND,
    SHANGHAI,
    Simulator,
    client_config,
    write_msgid,
)
from connectors.upstream.client import ReferenceClient
from scripts.scratch_db import create_database, default_admin_url, drop_database
from upload_queue import JobSpec, UploadQueue, enqueue
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import metadata, upload_attempt, upload_job

PG_URL = default_admin_url()
OUTAGE = timedelta(minutes=20)
PER_KEY = 4
URGENT_SHARE = 0.01
IDLE_SAMPLES = 100


# --- databases --------------------------------------------------------------------------------


def reachable_databases() -> list[tuple[str, str, Engine | None]]:
    folder = tempfile.mkdtemp(prefix="queue-bench-")
    found: list[tuple[str, str, Engine | None]] = [
        ("SQLite (WAL)", f"sqlite:///{folder}/q.db", None)
    ]
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
        found.append((f"PostgreSQL {version}", PG_URL, admin))
    except OperationalError:
        print(f"(PostgreSQL at {make_url(PG_URL).render_as_string()} unreachable: skipped)")
    return found


def fresh_database(url: str, admin: Engine | None) -> str:
    if admin is None:
        path = make_url(url).database or ""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return url
    return create_database(url, "queue_bench")


def drop_fresh_database(url: str, admin: Engine | None) -> None:
    if admin is not None:
        drop_database(PG_URL, url)


def _queue(engine: Engine, metrics: QueueMetrics, client: ReferenceClient) -> UploadQueue:
    queue = UploadQueue(engine, registry=metrics.registry, instance_id="bench")
    register_upload_handlers(queue, client)
    return queue


def _spec(msgid: str, deadline: datetime, key: str | None) -> JobSpec:
    payload = {"msgid": msgid, "input": INPUT, "insuplc_admdvs": "310100", "context": key or ""}
    return JobSpec(KIND.value, payload, msgid, deadline, key)


# --- one drain --------------------------------------------------------------------------------


def one_run(
    url: str,
    simulator: Simulator,
    run: int,
    jobs: int,
    workers: int,
    in_flight: int,
    latency_ms: float,
    instances: bool = False,
) -> dict[str, float]:
    """One drain; ``instances``: each worker is its own process (an instance of the adapter)."""
    engine = make_engine(url)
    metadata.create_all(engine)
    metrics = QueueMetrics(CollectorRegistry())
    day = datetime.now(SHANGHAI).date()
    simulator.reset()
    simulator.faults(outage=True, latency_ms=int(latency_ms))
    client = ReferenceClient.from_config(client_config(simulator.url))
    simulator.faults(latency_ms=int(latency_ms))
    client.sign_in()  # the day's sign-in happened before the outage
    simulator.faults(outage=True, latency_ms=int(latency_ms))
    # instances start during the outage, so their start-up does not eat the urgent jobs' time
    children = _spawn_instances(url, simulator, workers, in_flight) if instances else []
    urgent = max(int(jobs * URGENT_SHARE), 1)
    regular = jobs - urgent
    start = datetime.now(UTC) - OUTAGE
    with engine.begin() as connection:  # enqueued during the outage, in time order
        for n in range(regular):
            created = start + OUTAGE * n / regular
            key = f"enc-{n % max(regular // PER_KEY, 1)}"
            spec = _spec(write_msgid(day, run, n), created + timedelta(minutes=30), key)
            enqueue(connection, spec, now=created, metrics=metrics)
    lifted = datetime.now(UTC)
    rng = random.Random(run)
    with engine.begin() as connection:  # due within seconds of upstream's return
        for n in range(regular, jobs):
            due = lifted + timedelta(seconds=rng.uniform(1, 5))
            enqueue(connection, _spec(write_msgid(day, run, n), due, None), metrics=metrics)
    try:
        client.submit(KIND, write_msgid(day, run, jobs), INPUT, insuplc_admdvs="310100")
    except UpstreamUnavailable as exc:  # the outage answers 503
        assert "停机" in exc.upstream_message, exc.upstream_message
    else:
        raise RuntimeError("the simulator accepted a write during the outage")
    simulator.faults(latency_ms=int(latency_ms))
    lifted = datetime.now(UTC)

    if instances:  # the day's sign-in is their first call: count it in
        elapsed, (ours, theirs, database, busy) = _drain_instances(
            children, simulator, make_url(url).database or ""
        )
    else:
        queue = _queue(engine, metrics, client)
        drains = [queue.worker(i, in_flight=in_flight) for i in range(workers)]
        threads = [threading.Thread(target=worker.drain) for worker in drains]
        meter = Meter(simulator.process.pid, make_url(url).database or "")
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        ours, theirs, database, busy = meter.read()

    with engine.connect() as connection:
        rows = connection.execute(
            select(
                upload_job.c.id,
                upload_job.c.idempotency_key,
                upload_job.c.deadline,
                upload_job.c.created_at,
                upload_job.c.delivered_at,
                upload_job.c.ordering_key,
                upload_job.c.status,
            )
        ).all()
        calls = list(connection.execute(select(upload_attempt.c.duration_s)).scalars())
    engine.dispose()
    client.close()
    writes = [w for w in simulator.received() if w["took_effect"]]
    assert len(rows) == jobs and {r.status for r in rows} == {"delivered"}, "not all delivered"
    id_of = {r.idempotency_key: r.id for r in rows}
    order = [id_of[w["msgid"]] for w in writes if w["msgid"] in id_of]
    assert len(order) == jobs, "the simulator did not see every job"
    edf = [r.id for r in sorted(rows, key=lambda r: (r.deadline, r.id))]
    rank = {job_id: index for index, job_id in enumerate(edf)}
    displacement = max(abs(rank[job_id] - position) for position, job_id in enumerate(order))
    key_of = {r.id: r.ordering_key for r in rows}
    by_key: dict[str, list[int]] = {}
    for job_id in order:
        if key_of[job_id] is not None:
            by_key.setdefault(key_of[job_id], []).append(job_id)
    latencies = [(r.delivered_at - r.created_at).total_seconds() for r in rows]
    tight = [r for r in rows if r.ordering_key is None]
    feasible = [r for r in rows if r.deadline > lifted + timedelta(milliseconds=latency_ms)]
    return {
        "elapsed": elapsed,
        "rate": jobs / elapsed,
        "bound": workers * in_flight / (latency_ms / 1000),
        "on_time": sum(r.delivered_at <= r.deadline for r in rows) / jobs,
        "feasible_on_time": sum(r.delivered_at <= r.deadline for r in feasible)
        / max(len(feasible), 1),
        "urgent_on_time": sum(r.delivered_at <= r.deadline for r in tight) / len(tight),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "call_p50": percentile(calls, 0.5) * 1000,
        "call_p99": percentile(calls, 0.99) * 1000,
        "cpu_ours": ours / jobs * 1000,
        "cpu_sim": theirs / jobs * 1000,
        "cpu_db": database / jobs * 1000,
        "busy": busy,
        # cores kept busy meanwhile by everything else on the machine
        "others": max(busy * (os.cpu_count() or 1) * elapsed - ours - theirs - database, 0.0)
        / elapsed,
        "displacement": displacement,
        "key_order": float(all(ids == sorted(ids) for ids in by_key.values())),
    }


def _spawn_instances(url: str, simulator: Simulator, count: int, in_flight: int) -> list[Any]:
    """Start ``count`` adapter processes on ``url``; return once each is ready to drain."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.queue_drain_runs",
                url,
                simulator.url,
                str(in_flight),
                str(index),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(count)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return children


def _drain_instances(
    children: list[Any], simulator: Simulator, database: str
) -> tuple[float, tuple[float, float, float, float]]:
    """Release the instances together, time them until each has drained, and measure CPU
    (theirs counted as ours) before they close their database connections."""
    meter = Meter(simulator.process.pid, database)
    before = sum(process_cpu(child.pid) for child in children)

    def say(line: str) -> None:
        for child in children:
            child.stdin.write(line + "\n")
            child.stdin.flush()

    began = time.perf_counter()
    say("go")
    for child in children:
        assert child.stdout.readline().strip() == "done"
    elapsed = time.perf_counter() - began
    ours = sum(process_cpu(child.pid) for child in children) - before
    _, theirs, database_cpu, busy = meter.read()
    say("bye")
    for child in children:
        child.wait(timeout=60)
        assert child.returncode == 0, f"instance exited {child.returncode}"
    return elapsed, (ours, theirs, database_cpu, busy)


def _drain_instance(url: str, simulator_url: str, in_flight: int, index: int) -> None:
    """One adapter instance: ready; on "go" drain until nothing is due, "done"; on "bye" exit."""
    engine = make_engine(url)
    client = ReferenceClient.from_config(client_config(simulator_url))
    queue = _queue(engine, QueueMetrics(CollectorRegistry()), client)
    queue.instance_id = f"bench-{index}"
    worker = queue.worker(0, in_flight=in_flight)
    print("ready", flush=True)
    sys.stdin.readline()
    worker.drain()
    print("done", flush=True)
    sys.stdin.readline()
    client.close()
    engine.dispose()


def idle_latency(
    url: str, simulator: Simulator, run: int, workers: int, in_flight: int, latency_ms: float
) -> list[float]:
    """Seconds from commit to the simulator's receipt, one job at a time on an idle runner."""
    engine = make_engine(url)
    metadata.create_all(engine)
    metrics = QueueMetrics(CollectorRegistry())
    simulator.reset()
    simulator.faults(latency_ms=int(latency_ms))
    client = ReferenceClient.from_config(client_config(simulator.url))
    queue = _queue(engine, metrics, client)
    runner = queue.runner(workers=workers, in_flight=in_flight)
    runner.start()
    day = datetime.now(SHANGHAI).date()
    rng = random.Random(run)
    committed: dict[str, datetime] = {}
    try:
        for n in range(IDLE_SAMPLES):
            time.sleep(rng.uniform(0.02, 0.2))  # idle between jobs
            msgid = write_msgid(day, run, n)
            with engine.begin() as connection:
                queue.enqueue(connection, _spec(msgid, queue.clock() + timedelta(minutes=30), None))
            committed[msgid] = datetime.now(UTC)
            runner.wake()
            bound = time.monotonic() + 10
            while not _delivered(engine, msgid):
                if time.monotonic() > bound:
                    raise RuntimeError(f"job {msgid} not delivered within 10 s on an idle system")
                time.sleep(0.002)
    finally:
        runner.shutdown()
        client.close()
        engine.dispose()
    received = {w["msgid"]: datetime.fromisoformat(w["received_at"]) for w in simulator.received()}
    return [(received[m] - at).total_seconds() for m, at in committed.items()]


def _delivered(engine: Engine, msgid: str) -> bool:
    with engine.connect() as connection:
        status = connection.execute(
            select(upload_job.c.status).where(upload_job.c.idempotency_key == msgid)
        ).scalar_one()
    return bool(status == "delivered")


if __name__ == "__main__":
    _drain_instance(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
