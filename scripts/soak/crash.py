"""Crash soak: kill -9 ``wi-adapter serve`` at random points, round after round, on one
growing database, and check after every round that nothing was lost or duplicated.

The long variant of ``tests/reliability/test_crash.py``, built on the same harness
(:mod:`tests.reliability.support`): the adapter and the simulator run as their own
processes, the simulator outlives every kill and drops a share of its replies after
committing the write (so deliveries are re-sent after a restart). One round:

1. desks settle stays over REST (two threads, as two clerks);
2. the adapter is killed with SIGKILL at a random point — while the desks settle, or after
   they paused while the queue is still delivering;
3. it is started again on the same database (start-up takes back the jobs left in flight),
   the faults are lifted and the queue drains;
4. the whole database so far is checked (:mod:`scripts.soak.checks`): every acknowledged
   settlement present once, every upload acknowledged upstream exactly once by msgid, one
   discharge record per settlement, the audit chain intact.

The database is not reset between rounds; the restarted adapter goes on into the next round.
One line per round, a summary at the end; the first violation stops the run (exit 1) and
prints what was lost or duplicated, keeping the work folder with every process's log.

    python -m scripts.soak.crash --minutes 60 --database postgresql
    python -m scripts.soak.crash --rounds 3
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

from adapter.store.db import make_engine
from scripts.soak.checks import read_snapshot, violations
from scripts.soak.common import (
    Clock,
    add_common_arguments,
    database_bytes,
    fresh_database,
    in_work_folder,
    run_seconds,
)
from tests.reliability.support import (
    AdapterProcess,
    Desk,
    Simulator,
    eventually,
    prepare,
    simulator_process,
)

DEFAULT_MINUTES = 10.0
DRAIN_TIMEOUT_S = 180.0  # a reply lost twice waits 5 s + 10 s of back-off; an outage more


@dataclass
class Ledger:
    """What the desks were told, across every round."""

    acked: dict[str, Decimal] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # a 4xx/5xx a desk saw: a violation
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def _desk(desk: Desk, prefix: str, ledger: Ledger, stop: threading.Event) -> None:
    """Stays until told to stop or the adapter dies under us."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            settled = desk.stay(f"{prefix}-{n}")
        except httpx.TransportError:
            return  # killed mid-stay: this stay's outcome is unknown to the desk
        except AssertionError as exc:  # a refusal a clerk would see
            with ledger.lock:
                ledger.refused.append(f"{prefix}-{n}: {exc}")
            return
        with ledger.lock:
            ledger.acked[settled["id"]] = Decimal(str(settled["total"]))


def _queue_idle(desk: Desk) -> dict[str, int] | None:
    counts = desk.summary()["by_status"]
    waiting = counts.get("pending", 0) + counts.get("in_flight", 0)
    return None if waiting else dict(counts)


def _round(
    number: int,
    rng: random.Random,
    adapter: AdapterProcess,
    simulator: Simulator,
    token: str,
    ledger: Ledger,
    desks: int,
) -> str:
    """Settle, kill at a random point, restart and drain; returns how the kill landed."""
    simulator.faults(drop_reply_after_commit_rate=0.2, latency_ms=5)
    desk = Desk(adapter.base, token, sim_url=simulator.url)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_desk, args=(desk, f"R{number}D{d}", ledger, stop), daemon=True)
        for d in range(desks)
    ]
    for thread in threads:
        thread.start()
    target = ledger.count() + rng.randint(1, 8)
    eventually(lambda: ledger.count() >= target or ledger.refused, 120, "stays settled")
    if rng.random() < 0.5:
        where = "settling"
    else:  # the desks pause; the kill lands while the queue still delivers
        where = "draining"
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    # a random point, not a wait for a result: the kill must not line up with anything
    threading.Event().wait(rng.uniform(0.0, 0.8))
    adapter.kill9()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
        if thread.is_alive():
            raise RuntimeError("a desk did not return after the kill")
    simulator.faults()  # the restarted run delivers without faults, so the round ends
    adapter.start()
    eventually(
        lambda: _queue_idle(Desk(adapter.base, token, sim_url=simulator.url)),
        DRAIN_TIMEOUT_S,
        "the upload queue to drain after the restart",
    )
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.soak.crash",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, default_minutes=DEFAULT_MINUTES)
    parser.add_argument("--rounds", type=int, help="stop after this many rounds")
    parser.add_argument("--desks", type=int, default=2, help="desks settling at once (2)")
    args = parser.parse_args(argv)
    seconds = run_seconds(args, DEFAULT_MINUTES)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    limit = f"{args.rounds} rounds" if args.rounds else ""
    limit += (" or " if limit and seconds else "") + (f"{seconds / 60:g} min" if seconds else "")
    print(f"crash soak: {args.database}, {limit}, {args.desks} desks, seed {seed}", flush=True)

    return in_work_folder(
        "wi-soak-crash-", args.keep, lambda folder: _run(args, seconds, rng, folder)
    )


def _run(args: argparse.Namespace, seconds: float | None, rng: random.Random, folder: Path) -> int:
    clock = Clock()
    ledger = Ledger()
    rounds, kills = 0, {"settling": 0, "draining": 0}
    with (
        fresh_database(args.database, args.pg_url, folder) as db_url,
        simulator_process(folder) as simulator,
    ):
        token = prepare(db_url, simulator.url)
        engine = make_engine(db_url)
        adapter = AdapterProcess(db_url, simulator.url, folder)
        try:
            adapter.start()
            while True:
                rounds += 1
                try:
                    where = _round(rounds, rng, adapter, simulator, token, ledger, args.desks)
                except AssertionError as stalled:  # a bounded wait gave up: a finding, not a crash
                    print(f"VIOLATION in round {rounds} (adapter logs: {folder}):")
                    print(f"  STALLED {stalled}")
                    return 1
                kills[where] += 1
                writes = simulator.writes()
                snapshot = read_snapshot(engine, writes, ledger.acked)
                found = violations(snapshot) + [f"REFUSED at the desk: {r}" for r in ledger.refused]
                resent = sum(1 for w in writes if w["times_received"] > 1)
                print(
                    f"[{clock.stamp()}] round {rounds:4d}: killed while {where:8s} "
                    f"settlements {len(snapshot.settlements):6d} (acked {len(ledger.acked):6d})  "
                    f"uploads {len(snapshot.jobs):6d} (re-sent {resent:5d})  "
                    f"audit {snapshot.audit.checked:6d}  "
                    f"db {database_bytes(db_url) / 2**20:7.1f} MB"
                    f"  {'OK' if not found else 'VIOLATION'}",
                    flush=True,
                )
                if found:
                    print(f"VIOLATION after round {rounds} (adapter logs: {folder}):")
                    for line in found:
                        print(f"  {line}")
                    return 1
                if args.rounds and rounds >= args.rounds:
                    break
                if seconds is not None and clock.elapsed() >= seconds:
                    break
        finally:
            adapter.stop()
            engine.dispose()
    total_writes = len(writes)
    print(
        f"SUMMARY crash soak OK: {rounds} rounds ({kills['settling']} kills while settling, "
        f"{kills['draining']} while draining) in {clock.stamp()}; {len(ledger.acked)} "
        f"settlements acknowledged and present once; {total_writes} uploads each acknowledged "
        f"upstream exactly once ({resent} re-sent after a lost reply or a kill); audit chain of "
        f"{snapshot.audit.checked} entries verified",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
