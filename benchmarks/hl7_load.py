"""ADT^A08 near the durable-commit limit, and from 100 HIS connections (issue 17), on SQLite.

Two ratios, each to something measured in the same run (these machines differ 2–3×):

* **Durable before ACK, near the limit.** ADT^A08 from 8 senders, each its own MLLP
  connection waiting for its ACK, acknowledged/s (every message on the disk before its ACK),
  ÷ the machine's durable-commit limit: 8 threads each committing one message-sized row to
  the same SQLite file in WAL mode, as fast as they can, with the adapter's connection
  settings (:func:`adapter.store.db._sqlite_pragmas`) at ``synchronous=FULL``, so that each
  commit is synced to the disk (durable through a power cut). Target ≥ 0.5×. The adapter runs
  as shipped: ``[database] sqlite_synchronous = "full"``, and A08s arriving together share one
  transaction and one synced commit (``[hl7] group_commit = true``,
  :mod:`connectors.hl7.group_commit`). For scale, the same run also measures the limit
  without syncs (``synchronous=NORMAL``: what the CPU allows) and the A08 load on a second
  runtime with ``group_commit = false``: each A08 alone, in three commits of which the last is
  synced (:func:`adapter.store.db.deferred_sync`; the adapter before the group commit).
* **100 HIS connections.** ADT^A08 from 100 concurrent connections: every connection served
  (every message acknowledged ``AA`` and stored), acknowledged/s ÷ the 8-connection rate of
  the same run. Target ≥ 0.8×.

The A08 load is :mod:`benchmarks.hl7_traffic`'s (the real runtime over MLLP, senders in a
separate process, one admitted stay per sender); the measurements alternate for ``rounds``
rounds and the medians of the per-round ratios are compared.

Run: ``python -m benchmarks hl7_load`` (short) or ``BENCH_FULL=1 python -m benchmarks
hl7_load``; ``python -m benchmarks.hl7_load`` runs the full one.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import load_average, machine, percentile
from benchmarks.hl7_runtime import adapter_runtime, bench_database, senders_results, stored_accepted
from benchmarks.hl7_traffic import (
    SHANGHAI,
    Client,
    a08_message,
    a08_senders,
    ack_code,
    admit_message,
)
from tests.support.workers import seeded_worker

LIMIT_THREADS = 8


def _pragmas(connection: Any, synchronous: str) -> None:
    """The adapter's connection settings at ``PRAGMA synchronous=synchronous``."""
    from adapter.store import db

    db._sqlite_pragmas(synchronous, connection, None)


def durable_commit_limit(path: Path, seconds: float, payload: str, synchronous: str) -> float:
    """Commits/s of ``LIMIT_THREADS`` threads, each inserting one ``payload``-sized row per
    transaction into one SQLite file, with the adapter's connection settings at
    ``synchronous`` (``FULL`` syncs every commit to the disk, ``NORMAL`` none)."""
    path.unlink(missing_ok=True)
    setup = sqlite3.connect(path)
    _pragmas(setup, synchronous)
    setup.execute(
        "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY, control_id TEXT, "
        "received_at TEXT, raw TEXT)"
    )
    setup.close()
    counts = [0] * LIMIT_THREADS
    barrier = threading.Barrier(LIMIT_THREADS + 1)
    stop = threading.Event()

    def commit(index: int) -> None:
        connection = sqlite3.connect(path, check_same_thread=False)
        _pragmas(connection, synchronous)  # autocommit mode: BEGIN/COMMIT are ours
        barrier.wait()
        n = 0
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO message (control_id, received_at, raw) VALUES (?, ?, ?)",
                (f"L{index}-{n}", datetime.now().isoformat(), payload),
            )
            connection.execute("COMMIT")
            n += 1
        counts[index] = n
        connection.close()

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(LIMIT_THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


@dataclass
class Round:
    limit: float  # synchronous=FULL: every commit on the disk (the target's yardstick)
    limit_unsynced: float  # synchronous=NORMAL: no commit synced, for scale
    rate_8: float  # the adapter as shipped: A08s arriving together share one synced commit
    rate_100: float
    rate_8_alone: float = 0.0  # group_commit = false: each A08 alone, one sync each
    latencies_8: list[float] = field(default_factory=list)
    latencies_100: list[float] = field(default_factory=list)


def _a08_load(
    runtime: object, visits: list[str], admitted: datetime, count: int, prefix: str
) -> tuple[float, list[float]]:
    """A08 from one connection per visit, ``count`` each: (acknowledged/s, latencies).
    Raises unless every connection got an ``AA`` for each message and all are stored."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    port = runtime.hl7.port  # type: ignore[attr-defined]
    process = context.Process(
        target=a08_senders, args=(port, visits, admitted.isoformat(), count, prefix, out)
    )
    process.start()
    results = senders_results(out, process)
    served = sum(1 for _lat, codes, _s, _e in results if codes == ["AA"] * count)  # type: ignore[attr-defined]
    if served != len(visits):
        raise RuntimeError(f"{len(visits) - served} of {len(visits)} connections not fully served")
    stored = stored_accepted(runtime, prefix)
    if stored != count * len(visits):
        raise RuntimeError(f"{count * len(visits)} A08 acknowledged but {stored} stored")
    start = min(s for _l, _c, s, _e in results)  # type: ignore[attr-defined]
    end = max(e for _l, _c, _s, e in results)  # type: ignore[attr-defined]
    latencies = [lat for lats, _c, _s, _e in results for lat in lats]  # type: ignore[attr-defined]
    return count * len(visits) / (end - start), latencies


def _admitted(runtime: object, run_id: str, count: int) -> tuple[list[str], datetime]:
    """``count`` stays admitted over HL7, one per sender: their visit numbers."""
    admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=20)
    visits = [f"LV{run_id}{n:03d}" for n in range(count)]
    sim_url = runtime.settings.upstream.base_url  # type: ignore[attr-defined]
    client = Client(runtime.hl7.port)  # type: ignore[attr-defined]
    for n, visit in enumerate(visits):
        worker = seeded_worker(sim_url, visit)
        ack = client.send(admit_message(visit, admitted, f"{run_id}-A{n}", worker))
        if ack_code(ack) != "AA":
            raise RuntimeError(f"admission refused: {ack}")
    client.close()
    return visits, admitted


def measure(
    *, rounds: int, per_sender_8: int, per_sender_100: int, limit_seconds: float
) -> list[Round]:
    """Per round, in this order: the synced limit, A08 from 8 senders on the adapter as
    shipped, the same on a second runtime without the group commit, the unsynced limit, A08
    from 100 connections; so each A08 rate sits next to the limit it is divided by."""
    found = []
    with ExitStack() as stack:
        url = stack.enter_context(bench_database("sqlite"))
        assert url is not None
        folder = Path(url.removeprefix("sqlite:///")).parent
        runtime = stack.enter_context(adapter_runtime(url, 0))
        other_url = stack.enter_context(bench_database("sqlite"))
        assert other_url is not None
        alone = stack.enter_context(adapter_runtime(other_url, 0, group_commit=False))
        run_id = uuid.uuid4().hex[:8]
        visits, admitted = _admitted(runtime, run_id, 100)
        other_visits, other_admitted = _admitted(alone, run_id, 8)
        payload = a08_message(visits[0], admitted, f"{run_id}-X", 0)
        _a08_load(runtime, visits[:8], admitted, 10, f"{run_id}-W")  # warm-up
        _a08_load(alone, other_visits, other_admitted, 10, f"{run_id}-W")
        for number in range(rounds):
            limit = durable_commit_limit(folder / "limit.db", limit_seconds, payload, "FULL")
            rate_8, lat_8 = _a08_load(
                runtime, visits[:8], admitted, per_sender_8, f"{run_id}-E{number}-"
            )
            rate_alone, _ = _a08_load(
                alone,
                other_visits,
                other_admitted,
                max(10, per_sender_8 // 2),
                f"{run_id}-F{number}-",
            )
            unsynced = durable_commit_limit(folder / "limit.db", limit_seconds, payload, "NORMAL")
            rate_100, lat_100 = _a08_load(
                runtime, visits, admitted, per_sender_100, f"{run_id}-C{number}-"
            )
            found.append(Round(limit, unsynced, rate_8, rate_100, rate_alone, lat_8, lat_100))
            print(
                f"  round {number + 1}: commit limit {limit:5.0f}/s synced "
                f"({unsynced:6.0f}/s unsynced); A08 8 senders {rate_8:5.0f}/s "
                f"({rate_8 / limit:.2f}× synced limit; each alone {rate_alone:5.0f}/s, "
                f"{rate_alone / limit:.2f}×); 100 connections {rate_100:5.0f}/s "
                f"({rate_100 / rate_8:.2f}× the 8)"
            )
    return found


def _ms(samples: list[float]) -> str:
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    return f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"


def run(
    *,
    rounds: int = 3,
    per_sender_8: int = 300,
    per_sender_100: int = 30,
    limit_seconds: float = 5.0,
) -> list[Round]:
    import logging

    logging.getLogger("connectors.hl7").setLevel(logging.ERROR)
    print(f"HL7 A08 load benchmark (SQLite) — {machine()}; {load_average()} at start")
    print(
        f"workload: real runtime, MLLP on loopback, senders in a separate process; {rounds} "
        f"rounds of: commit limit ({LIMIT_THREADS} threads, one row a commit, "
        f"{limit_seconds:.0f} s, synced and unsynced), A08 8 senders × {per_sender_8} as "
        f"shipped (group commit) and × {max(10, per_sender_8 // 2)} each alone (a second "
        f"runtime, group_commit = false), A08 100 connections × {per_sender_100}"
    )
    found = measure(
        rounds=rounds,
        per_sender_8=per_sender_8,
        per_sender_100=per_sender_100,
        limit_seconds=limit_seconds,
    )

    def median(values: Iterator[float]) -> float:
        return statistics.median(list(values))

    limit = median(r.limit for r in found)
    unsynced = median(r.limit_unsynced for r in found)
    rate_8 = median(r.rate_8 for r in found)
    rate_alone = median(r.rate_8_alone for r in found)
    rate_100 = median(r.rate_100 for r in found)
    near = median(r.rate_8 / r.limit for r in found)
    near_alone = median(r.rate_8_alone / r.limit for r in found)
    wide = median(r.rate_100 / r.rate_8 for r in found)
    lat_8 = [x for r in found for x in r.latencies_8]
    lat_100 = [x for r in found for x in r.latencies_100]
    print(f"  commit limit, synchronous=FULL (each commit on disk)   {limit:7.0f}/s")
    print(f"  commit limit, synchronous=NORMAL (no sync, for scale)  {unsynced:7.0f}/s")
    print(f"  A08 8 senders, group commit (shipped)     {rate_8:7.0f}/s  {_ms(lat_8)}")
    print(f"  A08 8 senders, each alone (one sync each)              {rate_alone:7.0f}/s")
    print(f"  A08 100 connections, as shipped           {rate_100:7.0f}/s  {_ms(lat_100)}")
    print("  every connection served, every message on the disk before its ACK")
    met = "met" if near >= 0.5 else "NOT met"
    print(f"  target A08 8 senders ≥ 0.5× the synced limit:  {met} ({near:.2f}×)")
    print(f"    each A08 alone instead (no group commit):    {near_alone:.2f}×")
    print(f"    against the unsynced limit (the CPU's):      {rate_8 / unsynced:.3f}×")
    met = "met" if wide >= 0.8 else "NOT met"
    print(f"  target 100 connections ≥ 0.8× 8 connections:   {met} ({wide:.2f}×)")
    print(f"  ({load_average()} at end)")
    return found


if __name__ == "__main__":
    run()
