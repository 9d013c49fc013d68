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
as :func:`start_simulator` serves it is timed (see ``_serve_simulator``).

No figure is asserted: this prints, it does not judge.

``python -m benchmarks queue_drain`` or ``python -m benchmarks.queue_drain --jobs 2000``.
PostgreSQL runs when ``ADAPTER_TEST_PG_URL`` (or the loopback default) answers.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import UpstreamUnavailable
from adapter.domain.upstream import Infno, make_msgid
from adapter.store.db import make_engine
from adapter.wiring.outbox import register_upload_handlers
from benchmarks.common import machine, percentile
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig
from scripts.scratch_db import create_database, default_admin_url, drop_database
from upload_queue import JobSpec, UploadQueue, enqueue
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import metadata, upload_attempt, upload_job

PG_URL = default_admin_url()
OUTAGE = timedelta(minutes=20)
PER_KEY = 4
URGENT_SHARE = 0.01
INSTITUTION = "H11010000001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
KIND = Infno.DEVICE_FUNDS_CONFIRM  # WI3301: a write the simulator accepts any number of
INPUT = {"month": "2026-10", "amount": "1234.56"}
IDLE_SAMPLES = 100


# --- the simulator, in its own process -------------------------------------------------------


def _serve_simulator() -> None:
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
    """The simulator subprocess: ``url``, ``faults()``, ``reset()``, ``received()``, CPU time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.queue_drain", "--serve-simulator"],
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

    def cpu_seconds(self) -> float:
        return _process_cpu(self.process.pid)

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_PG_AUXILIARY = ("checkpointer", "walwriter", "background writer", "autovacuum", "wal writer")


def _postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database`` and of the server's own
    processes (WAL writer, checkpointer…), not of other databases' backends (other tests)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
            with open(f"/proc/{entry}/cmdline") as cmdline:
                title = cmdline.read()
            if f" {database} " in title or any(name in title for name in _PG_AUXILIARY):
                total += _process_cpu(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class Meter:
    """CPU seconds of this process and of the simulator, and machine busy share, over a span."""

    def __init__(self, simulator: Simulator, database: str) -> None:
        self.simulator = simulator
        self.database_name = database
        self.ours = time.process_time()
        self.theirs = simulator.cpu_seconds()
        self.database = _postgres_cpu(database)
        self.busy, self.total = _machine_busy()

    def read(self) -> tuple[float, float, float, float]:
        """CPU seconds of (this process, the simulator, PostgreSQL), machine busy share."""
        busy, total = _machine_busy()
        return (
            time.process_time() - self.ours,
            self.simulator.cpu_seconds() - self.theirs,
            _postgres_cpu(self.database_name) - self.database,
            (busy - self.busy) / max(total - self.total, 1.0),
        )


def _config(url: str) -> UpstreamConfig:
    return UpstreamConfig(
        base_url=url,
        institution_code=INSTITUTION,
        institution_name="示例工伤协议医院",
        treatment_admdvs="110100",
        write_timeout_s=10.0,
    )


def _msgid(day: date, run: int, n: int) -> str:
    at = datetime(day.year, day.month, day.day, 1, 0) + timedelta(minutes=run, seconds=n // 10_000)
    return make_msgid(INSTITUTION, at, n % 10_000)


def ceiling(simulator: Simulator, callers: int, latency_ms: float, seconds: float) -> float:
    """Writes/s the simulator answers to ``callers`` threads sharing one client (no queue)."""
    simulator.reset()
    simulator.faults(latency_ms=int(latency_ms))
    client = ReferenceClient.from_config(_config(simulator.url))
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
            client.submit(KIND, _msgid(day, 900, n), INPUT, insuplc_admdvs="310100")
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
        client = ReferenceClient.from_config(_config(server.url))
        client.sign_in()
        samples = []
        for n in range(20):
            began = time.perf_counter()
            client.submit(KIND, _msgid(day, 901, n), INPUT, insuplc_admdvs="310100")
            samples.append(time.perf_counter() - began)
        client.close()
    return percentile(samples, 0.5) * 1000


# --- databases --------------------------------------------------------------------------------


def _databases() -> list[tuple[str, str, Engine | None]]:
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


def _fresh(url: str, admin: Engine | None) -> str:
    if admin is None:
        path = make_url(url).database or ""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return url
    return create_database(url, "queue_bench")


def _drop(url: str, admin: Engine | None) -> None:
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
    client = ReferenceClient.from_config(_config(simulator.url))
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
            spec = _spec(_msgid(day, run, n), created + timedelta(minutes=30), key)
            enqueue(connection, spec, now=created, metrics=metrics)
    lifted = datetime.now(UTC)
    rng = random.Random(run)
    with engine.begin() as connection:  # due within seconds of upstream's return
        for n in range(regular, jobs):
            due = lifted + timedelta(seconds=rng.uniform(1, 5))
            enqueue(connection, _spec(_msgid(day, run, n), due, None), metrics=metrics)
    try:
        client.submit(KIND, _msgid(day, run, jobs), INPUT, insuplc_admdvs="310100")
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
        meter = Meter(simulator, make_url(url).database or "")
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
                "benchmarks.queue_drain",
                "--drain-instance",
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
    meter = Meter(simulator, database)
    before = sum(_process_cpu(child.pid) for child in children)

    def say(line: str) -> None:
        for child in children:
            child.stdin.write(line + "\n")
            child.stdin.flush()

    began = time.perf_counter()
    say("go")
    for child in children:
        assert child.stdout.readline().strip() == "done"
    elapsed = time.perf_counter() - began
    ours = sum(_process_cpu(child.pid) for child in children) - before
    _, theirs, database_cpu, busy = meter.read()
    say("bye")
    for child in children:
        child.wait(timeout=60)
        assert child.returncode == 0, f"instance exited {child.returncode}"
    return elapsed, (ours, theirs, database_cpu, busy)


def _drain_instance(url: str, simulator_url: str, in_flight: int, index: int) -> None:
    """One adapter instance: ready; on "go" drain until nothing is due, "done"; on "bye" exit."""
    engine = make_engine(url)
    client = ReferenceClient.from_config(_config(simulator_url))
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
    client = ReferenceClient.from_config(_config(simulator.url))
    queue = _queue(engine, metrics, client)
    runner = queue.runner(workers=workers, in_flight=in_flight)
    runner.start()
    day = datetime.now(SHANGHAI).date()
    rng = random.Random(run)
    committed: dict[str, datetime] = {}
    try:
        for n in range(IDLE_SAMPLES):
            time.sleep(rng.uniform(0.02, 0.2))  # idle between jobs
            msgid = _msgid(day, run, n)
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


# --- the report -------------------------------------------------------------------------------


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
        for label, url, admin in _databases():
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
        fresh = _fresh(url, admin)
        try:
            r = one_run(fresh, simulator, step(), jobs, workers, in_flight, latency_ms, instances)
        finally:
            _drop(fresh, admin)
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
    fresh = _fresh(url, admin)
    try:
        samples = idle_latency(fresh, simulator, step(), workers, in_flight, latency_ms)
    finally:
        _drop(fresh, admin)
    print(
        f"  idle: enqueue (commit, wake) → simulator received, {len(samples)} jobs one at a time, "
        f"{workers} workers x {in_flight}: p50 {percentile(samples, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(samples, 0.99) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve-simulator"]:
        _serve_simulator()
        sys.exit(0)
    if sys.argv[1:2] == ["--drain-instance"]:
        _drain_instance(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--in-flight", type=int, default=8, help="deliveries in flight in all")
    options = parser.parse_args()
    run(options.jobs, options.latency_ms, tuple(options.workers), options.in_flight)
