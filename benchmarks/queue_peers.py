"""Our upload queue against pgqueuer: the same no-op workload on the same PostgreSQL, same run.

Rows: enqueue ``jobs`` jobs one per transaction (pgqueuer: autocommit, as its documentation
does; ours: :func:`upload_queue.enqueue_now`, one autocommit ``INSERT``, as a caller with no
transaction of its own enqueues); then again in an explicit ``BEGIN … COMMIT`` each (ours:
:func:`upload_queue.enqueue` in the caller's transaction, the outbox; pgqueuer's enqueue
inside ``connection.transaction()``); enqueue
``jobs`` jobs in one batch (ours:
:func:`upload_queue.enqueue_many`, one ``INSERT``; pgqueuer: ``Queries.enqueue`` with lists);
drain ``jobs`` jobs with 1 and with 4 workers and a no-op handler (ours: :class:`Worker`
threads leasing 10 jobs a transaction; pgqueuer: ``QueueManager``s in drain mode, batch 10,
each on its own asyncpg connection, pgqueuer's first driver); and drain with 4 processes of
one worker each (ours: separate instances, or a serving instance with ``[queue] workers = 0``
beside delivering ones, is a supported deployment; pgqueuer: one ``QueueManager`` each),
timed from a go given once all have started and connected. Each measurement runs in its
own fresh process on its own fresh database, ours and pgqueuer's alternating, ``repeats``
times; the median of each side is reported with their ratio, and the load average before
and after, since the machine is shared and only ratios measured side by side mean anything.

Targets (issue 17): ours ≥ 0.5× pgqueuer in each row; our 4 workers ≥ 0.9× our 1 worker
(threads of one process, as ``[queue] workers`` runs them; the processes row beside it).
Ours does more per job (earliest deadline first, per-key order, leases with expiry,
attempt history, the delivery ledger), so the rows price that.

``python -m benchmarks queue_peers`` or ``python -m benchmarks.queue_peers --jobs 2000``.
Needs PostgreSQL (``ADAPTER_TEST_PG_URL`` or the loopback default) and ``pgqueuer`` (the
``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.common import machine
from scripts.scratch_db import default_admin_url, scratch_database

PG_URL = default_admin_url()
ROWS = (
    "enqueue 1/tx",
    "enqueue 1/tx, BEGIN",
    "enqueue batch",
    "drain 1 worker",
    "drain 4 workers",
    "drain 4 processes",
)
BATCH = 10  # jobs a worker takes per dequeue, both sides


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


# --- the parent: fresh databases, fresh processes, alternating ---------------------------------


def _measure(side: str, row: str, jobs: int) -> float:
    """Jobs per second of one measurement, in a fresh process on a fresh database."""
    with scratch_database(PG_URL, "bench_peers") as url:
        child = ["-m", "benchmarks.queue_peers", "--child", side, row, str(jobs), url]
        try:
            done = subprocess.run(
                [sys.executable, *child], check=True, capture_output=True, text=True, timeout=900
            )
        except subprocess.CalledProcessError as failed:
            raise RuntimeError(f"{side} {row} failed:\n{failed.stderr[-3000:]}") from failed
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(jobs / result["seconds"])


def run(jobs: int = 2_000, repeats: int = 3) -> dict[str, tuple[float, float]]:
    """Print the table; return ``{row: (ours, pgqueuer)}`` median jobs/s."""
    try:
        import pgqueuer  # noqa: F401
    except ImportError:
        print("queue vs pgqueuer: pgqueuer is not installed (pip install -e '.[bench]'); skipped")
        return {}
    try:
        create_engine(PG_URL).connect().close()
    except Exception as exc:  # no PostgreSQL: nothing to compare on
        print(f"queue vs pgqueuer: PostgreSQL at {PG_URL} does not answer ({exc}); skipped")
        return {}
    from importlib.metadata import version

    print(f"upload queue vs pgqueuer {version('pgqueuer')}, no-op handler — {machine()}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average before: {_load()}; {jobs} jobs "
        f"per measurement, {repeats} alternating repeats, each in a fresh process and database"
    )
    samples: dict[str, dict[str, list[float]]] = {row: {"ours": [], "pgq": []} for row in ROWS}
    for repeat in range(repeats):
        for row in ROWS:
            order = ("ours", "pgq") if repeat % 2 == 0 else ("pgq", "ours")
            for side in order:
                samples[row][side].append(_measure(side, row, jobs))
    print(f"{'':>20} {'ours jobs/s':>12} {'pgqueuer':>10} {'ours/pgq':>9} {'target':>7}")
    result: dict[str, tuple[float, float]] = {}
    for row in ROWS:
        ours = statistics.median(samples[row]["ours"])
        theirs = statistics.median(samples[row]["pgq"])
        result[row] = (ours, theirs)
        ratio = ours / theirs
        print(
            f"{row:>20} {ours:>12.0f} {theirs:>10.0f} {ratio:>9.2f} "
            f"{'met' if ratio >= 0.5 else 'MISSED':>7}"
        )
    scale = result["drain 4 workers"][0] / result["drain 1 worker"][0]
    their_scale = result["drain 4 workers"][1] / result["drain 1 worker"][1]
    print(
        f"our 4 workers / our 1 worker: {scale:.2f} (target ≥ 0.9: "
        f"{'met' if scale >= 0.9 else 'MISSED'}); pgqueuer's: {their_scale:.2f}"
    )
    spread = result["drain 4 processes"][0] / result["drain 1 worker"][0]
    their_spread = result["drain 4 processes"][1] / result["drain 1 worker"][1]
    print(
        f"our 4 processes / our 1 worker: {spread:.2f} (target ≥ 0.9: "
        f"{'met' if spread >= 0.9 else 'MISSED'}); pgqueuer's: {their_spread:.2f}"
    )
    print(f"every sample (jobs/s): {json.dumps(samples)}")
    print(f"load average after: {_load()}")
    return result


# --- the children: one measurement each ------------------------------------------------------


def _ours(row: str, jobs: int, url: str) -> float:
    from prometheus_client import CollectorRegistry

    from upload_queue import Handlers, JobSpec, Worker, enqueue, enqueue_many, enqueue_now
    from upload_queue.metrics import QueueMetrics
    from upload_queue.tables import metadata

    engine = create_engine(url, pool_size=6, max_overflow=4)
    metadata.create_all(engine)
    metrics = QueueMetrics(CollectorRegistry())
    now = datetime.now(UTC)
    specs = [
        JobSpec("noop", {"n": n}, f"k-{n}", now + timedelta(minutes=30 + n % 7))
        for n in range(jobs)
    ]
    if row == "enqueue 1/tx":  # no caller transaction: the job committed on its own
        start = time.perf_counter()
        for spec in specs:
            enqueue_now(engine, spec, metrics=metrics)
        return time.perf_counter() - start
    if row == "enqueue 1/tx, BEGIN":  # in the caller's transaction (the outbox)
        start = time.perf_counter()
        for spec in specs:
            with engine.begin() as connection:
                enqueue(connection, spec, metrics=metrics)
        return time.perf_counter() - start
    if row == "enqueue batch":
        start = time.perf_counter()
        with engine.begin() as connection:
            enqueue_many(connection, specs, metrics=metrics)
        return time.perf_counter() - start
    with engine.begin() as connection:
        enqueue_many(connection, specs, metrics=metrics)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE upload_job"))
        connection.commit()
    if row == "drain 4 processes":
        seconds = _processes("ours", url)
        _check_all_delivered(engine, jobs)
        return seconds
    handlers = Handlers()
    handlers.register("noop", lambda delivery: None)
    count = 4 if row == "drain 4 workers" else 1
    workers = [
        Worker(engine, handlers, worker_id=f"bench:{i}", batch=BATCH, metrics=metrics)
        for i in range(count)
    ]
    threads = [threading.Thread(target=worker.drain) for worker in workers]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    _check_all_delivered(engine, jobs)
    return seconds


def _check_all_delivered(engine: Engine, jobs: int) -> None:
    """A drain's time counts only if every job was delivered."""
    from upload_queue.tables import upload_job  # as above: imported in the measured process

    with engine.connect() as connection:
        delivered = connection.execute(
            select(func.count()).where(upload_job.c.status == "delivered")
        ).scalar_one()
    if delivered != jobs:
        raise RuntimeError(f"ours delivered {delivered} of {jobs}")


async def _pgqueuer(row: str, jobs: int, url: str) -> float:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def connect() -> Any:
        return await asyncpg.connect(dsn)

    connection = await connect()
    queries = Queries(AsyncpgDriver(connection))
    await queries.install()
    names, payloads, priorities = ["noop"] * jobs, [None] * jobs, [0] * jobs
    if row == "enqueue 1/tx":
        start = time.perf_counter()
        for _ in range(jobs):
            await queries.enqueue("noop", None)
        return time.perf_counter() - start
    if row == "enqueue 1/tx, BEGIN":  # inside an explicit transaction, as an outbox is
        start = time.perf_counter()
        for _ in range(jobs):
            async with connection.transaction():
                await queries.enqueue("noop", None)
        return time.perf_counter() - start
    if row == "enqueue batch":
        start = time.perf_counter()
        await queries.enqueue(names, payloads, priorities)  # type: ignore[arg-type]
        return time.perf_counter() - start
    await queries.enqueue(names, payloads, priorities)  # type: ignore[arg-type]
    await connection.execute("ANALYZE pgqueuer")  # asyncpg: no transaction, like autocommit
    if row == "drain 4 processes":
        seconds = await asyncio.to_thread(_processes, "pgq", url)
        left = await connection.fetchval("SELECT count(*) FROM pgqueuer")
        if left:
            raise RuntimeError(f"pgqueuer left {left} of {jobs}")
        return seconds
    done = 0
    managers = []
    for _ in range(4 if row == "drain 4 workers" else 1):
        manager = QueueManager(Queries(AsyncpgDriver(await connect())))

        @manager.entrypoint("noop")
        async def noop(job: Any) -> None:
            nonlocal done
            done += 1

        managers.append(manager)
    start = time.perf_counter()
    await asyncio.gather(
        *(
            manager.run(
                mode=QueueExecutionMode.drain,
                batch_size=BATCH,
                dequeue_timeout=timedelta(seconds=1),
                log_aggregation_interval=timedelta(0),
            )
            for manager in managers
        )
    )
    seconds = time.perf_counter() - start
    if done != jobs:
        raise RuntimeError(f"pgqueuer handled {done} of {jobs}")
    return seconds


# --- "drain 4 processes": one worker per process, as separate instances (or an instance with
# ``[queue] workers`` and another serving with none) deploy; pgqueuer likewise, one manager each


def _processes(side: str, url: str, count: int = 4) -> float:
    """Seconds from the go, given once every process has started and connected, until the
    last one has drained (each reports its own end)."""
    command = [sys.executable, "-m", "benchmarks.queue_peers", "--drainer", side, url]
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{side} drainer did not start")
        start = time.time()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        ends = []
        for child in children:
            out, _ = child.communicate(timeout=900)
            ends.append(json.loads(out.strip().splitlines()[-1])["end"])
            if child.returncode:
                raise RuntimeError(f"{side} drainer failed")
        return max(ends) - start
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()


def _drainer(side: str, url: str) -> None:
    if side == "ours":
        from prometheus_client import CollectorRegistry

        from upload_queue import Handlers, Worker
        from upload_queue.metrics import QueueMetrics

        engine = create_engine(url, pool_size=2)
        handlers = Handlers()
        handlers.register("noop", lambda delivery: None)
        worker = Worker(
            engine,
            handlers,
            worker_id=f"bench:{os.getpid()}",
            batch=BATCH,
            metrics=QueueMetrics(CollectorRegistry()),
        )
        engine.connect().close()  # connected before the go, as pgqueuer's is
        print("ready", flush=True)
        sys.stdin.readline()
        worker.drain()
    else:
        asyncio.run(_pgqueuer_drainer(url))
    print(json.dumps({"end": time.time()}), flush=True)


async def _pgqueuer_drainer(url: str) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    manager = QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(dsn))))

    @manager.entrypoint("noop")
    async def noop(job: Any) -> None:
        pass

    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await manager.run(
        mode=QueueExecutionMode.drain,
        batch_size=BATCH,
        dequeue_timeout=timedelta(seconds=1),
        log_aggregation_interval=timedelta(0),
    )


def _child(side: str, row: str, jobs: int, url: str) -> None:
    seconds = _ours(row, jobs, url) if side == "ours" else asyncio.run(_pgqueuer(row, jobs, url))
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drainer"]:
        _drainer(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    run(options.jobs, options.repeats)
