"""Load soak: a steady mixed load on ``wi-adapter serve`` for minutes to hours, with upstream
faults injected in cycles, watching the adapter's memory, file descriptors, database size
and upload queue; at the end everything must be delivered and nothing must have leaked.

The adapter runs as IT runs it (a ``serve`` process from :mod:`tests.reliability.support`,
with its MLLP listener on), the simulator as its own process. This process is the hospital
(its desks and HIS in :mod:`scripts.soak.hospital`):

* REST desks (``--desks``, 2) admit, record fees and settle stays, as the billing desk does;
* an HL7 sender (``--hl7-senders``, 1) sends ADT^A01, DFT^P03 and ADT^A03 (which settles at
  once under the default site profile) over MLLP, as the HIS does;
* the upload queue drains to the simulator, whose faults follow a cycle (``--cycle-seconds``):
  normal → outage → normal → slow replies (2 s) → lost replies (30 % dropped after commit).

While upstream is out, clerks get a 503 and the HIS an AE: that is the expected behaviour,
counted, and the stay is retried later (as a clerk or the HIS would). Every ``--interval``
seconds one row: the adapter's resident memory (RSS) and open file descriptors, the database
size, the queue's depth and its deadline-at-risk and missed counts (:mod:`scripts.soak.samples`).

At the end the faults are lifted, the queue must drain, and:

* every upload is delivered, none dead (no fault injected here is a refusal), each msgid
  took effect upstream once, one discharge record per settlement, the audit chain verifies
  (:mod:`scripts.soak.checks`);
* no desk saw anything but success or the upstream-unavailable 503, no HL7 message was
  rejected (AR);
* RSS grew by at most ``--max-rss-growth-mb`` after the warm-up, and the open file
  descriptors by at most ``--max-fd-growth``.

    python -m scripts.soak.load --minutes 30 --database postgresql

``--slow-upstream`` runs the other load instead, that of
``tests/reliability/test_slow_upstream_load.py`` for as long as asked: ``--clients`` (16)
desks at once while upstream answers each transaction after ``--latency-ms`` (400); no 500,
no settle committed after its desk gave up, one call-log row per transaction upstream
received (:mod:`tests.reliability.pool_load`).

    python -m scripts.soak.load --slow-upstream --minutes 30 --database postgresql
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapter.store.db import make_engine
from scripts.soak.checks import read_snapshot, violations
from scripts.soak.common import (
    Clock,
    add_common_arguments,
    fresh_database,
    in_work_folder,
    run_seconds,
)
from scripts.soak.hospital import Tally, hl7_sender, rest_desk
from scripts.soak.samples import Sample, sample
from tests.reliability import pool_load
from tests.reliability.support import (
    AdapterProcess,
    Desk,
    Simulator,
    eventually,
    free_port,
    prepare,
    simulator_process,
)

DEFAULT_MINUTES = 30.0
# (phase, weight in the cycle, the simulator's faults): normal gets a third of the time.
PHASES: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("normal", 2, {}),
    ("outage", 1, {"outage": True}),
    ("normal", 1, {}),
    ("slow", 1, {"latency_ms": 2000}),
    ("lost", 1, {"drop_reply_after_commit_rate": 0.3}),
)
DRAIN_TIMEOUT_S = 600.0  # after a long outage the back-off (5 s doubling) can reach minutes


@dataclass
class Faults:
    """Walks the simulator through :data:`PHASES`, one cycle after another."""

    simulator: Simulator
    cycle_seconds: float
    phase: str = "normal"
    counts: Counter[str] = field(default_factory=Counter)

    def run(self, stop: threading.Event) -> None:
        weights = sum(w for _, w, _ in PHASES)
        while not stop.is_set():
            for name, weight, faults in PHASES:
                self.phase = name
                self.counts[name] += 1
                self.simulator.faults(**faults)
                if stop.wait(self.cycle_seconds * weight / weights):
                    break
        self.phase = "lifted"
        self.simulator.faults()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.soak.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, default_minutes=DEFAULT_MINUTES)
    parser.add_argument("--desks", type=int, default=2, help="REST desks (2)")
    parser.add_argument("--hl7-senders", type=int, default=1, help="HL7 senders (1)")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds each desk or sender waits between stays (0.5)",
    )
    parser.add_argument(
        "--cycle-seconds",
        type=float,
        default=300.0,
        help="length of one fault cycle (300; an outage is 1/6 of it)",
    )
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before memory counts (default: a fifth of the run, at most 5 minutes)",
    )
    parser.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    parser.add_argument("--max-fd-growth", type=int, default=8)
    parser.add_argument(
        "--slow-upstream",
        action="store_true",
        help="run the many-desks-while-upstream-is-slow load instead (see above)",
    )
    parser.add_argument("--clients", type=int, default=16, help="with --slow-upstream (16)")
    parser.add_argument("--latency-ms", type=int, default=400, help="with --slow-upstream (400)")
    args = parser.parse_args(argv)
    seconds = run_seconds(args, DEFAULT_MINUTES) or DEFAULT_MINUTES * 60
    if args.slow_upstream:
        return in_work_folder(
            "wi-soak-slow-", args.keep, lambda folder: _run_slow(args, seconds, folder)
        )
    warmup = args.warmup if args.warmup is not None else min(300.0, seconds / 5)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print(
        f"load soak: {args.database}, {seconds / 60:g} min, {args.desks} REST desks, "
        f"{args.hl7_senders} HL7 senders, fault cycle {args.cycle_seconds:g} s, warm-up "
        f"{warmup:g} s, bounds: RSS growth ≤ {args.max_rss_growth_mb:g} MB, "
        f"fd growth ≤ {args.max_fd_growth}, seed {seed}",
        flush=True,
    )
    return in_work_folder(
        "wi-soak-load-", args.keep, lambda folder: _run(args, seconds, warmup, folder, seed)
    )


def _run_slow(args: argparse.Namespace, seconds: float, folder: Path) -> int:
    print(
        f"slow-upstream load: {args.database}, {seconds / 60:g} min, {args.clients} desks, "
        f"upstream latency {args.latency_ms} ms",
        flush=True,
    )
    with fresh_database(args.database, args.pg_url, folder) as db_url:
        report = pool_load.run(
            db_url, folder, seconds=seconds, clients=args.clients, latency_ms=args.latency_ms
        )
    for line in report.lines():
        print(line)
    found = [f"DESK saw: {p}" for p in report.problems[:10]]
    found += [f"ANSWERED 500: {s}" for s in report.statuses if " 500" in s]
    found += [f"SETTLED AFTER ITS DESK GAVE UP: {e}" for e in report.settled_after_giving_up]
    if report.call_log_rows != report.calls_received:
        found.append(
            f"CALL LOG: {report.call_log_rows} rows for {report.calls_received} transactions"
        )
    if report.stays == 0:
        found.append("NO LOAD: nothing was settled; the run proved nothing")
    if found:
        print(f"VIOLATION (adapter logs: {folder}):")
        for line in found:
            print(f"  {line}")
        print("SUMMARY slow-upstream load FAILED", flush=True)
        return 1
    print(f"SUMMARY slow-upstream load OK: {report.stays} stays settled", flush=True)
    return 0


def _run(args: argparse.Namespace, seconds: float, warmup: float, folder: Path, seed: int) -> int:
    clock = Clock()
    tally = Tally()
    hl7_port = free_port()
    with (
        fresh_database(args.database, args.pg_url, folder) as db_url,
        simulator_process(folder) as simulator,
    ):
        token = prepare(db_url, simulator.url)
        adapter = AdapterProcess(
            db_url,
            simulator.url,
            folder,
            env={"ADAPTER_HL7__ENABLED": "true", "ADAPTER_HL7__PORT": str(hl7_port)},
        )
        engine = make_engine(db_url)
        faults = Faults(simulator, args.cycle_seconds)
        stop, samples, baseline = threading.Event(), [], None
        try:
            adapter.start()
            desk = Desk(adapter.base, token, sim_url=simulator.url)
            run = f"S{seed}"
            workers = [
                threading.Thread(target=faults.run, args=(stop,), daemon=True),
                *(
                    threading.Thread(
                        target=rest_desk,
                        args=(
                            Desk(adapter.base, token, sim_url=simulator.url),
                            f"{run}D{d}",
                            tally,
                            stop,
                            args.pause,
                        ),
                        daemon=True,
                    )
                    for d in range(args.desks)
                ),
                *(
                    threading.Thread(
                        target=hl7_sender,
                        args=(hl7_port, f"{run}H{h}", tally, stop, args.pause, simulator.url),
                        daemon=True,
                    )
                    for h in range(args.hl7_senders)
                ),
            ]
            for worker in workers:
                worker.start()
            print(Sample.HEADER, flush=True)
            end = time.monotonic() + seconds
            while True:
                now = sample(clock, adapter, desk, db_url, faults.phase, tally.settled())
                samples.append(now)
                print(now.row(), flush=True)
                if baseline is None and clock.elapsed() >= warmup:
                    baseline = now
                left = end - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(args.interval, left))  # the sampling period, not a wait on a result
            stop.set()
            for worker in workers:
                worker.join(timeout=120)
            try:
                eventually(
                    lambda: sample(clock, adapter, desk, db_url, "lifted", 0).depth == 0,
                    DRAIN_TIMEOUT_S,
                    "the upload queue to drain once the faults lifted",
                )
            except AssertionError as stalled:  # a bounded wait gave up: a finding, not a crash
                print(f"VIOLATION (adapter logs: {folder}):")
                print(f"  STALLED {stalled}")
                return 1
            final = sample(clock, adapter, desk, db_url, "drained", tally.settled())
            samples.append(final)
            print(final.row(), flush=True)
            snapshot = read_snapshot(engine, simulator.writes(), tally.acked)
        finally:
            stop.set()
            adapter.stop()
            engine.dispose()

    baseline = baseline or samples[0]
    seen = Counter(tally.problems)  # the same refusal repeats every stay: name it once
    found = violations(snapshot) + [f"DESK saw ×{n}: {p}" for p, n in seen.most_common(5)]
    rss_growth = final.rss_mb - baseline.rss_mb
    fd_growth = final.fds - baseline.fds
    if rss_growth > args.max_rss_growth_mb:
        found.append(
            f"MEMORY: RSS grew {rss_growth:.1f} MB after the warm-up "
            f"({baseline.rss_mb:.1f} → {final.rss_mb:.1f}), bound {args.max_rss_growth_mb:g}"
        )
    if fd_growth > args.max_fd_growth:
        found.append(f"FILE DESCRIPTORS: {baseline.fds} → {final.fds}, bound +{args.max_fd_growth}")
    settled = sum(1 for s in snapshot.settlements if s.status == "settled")
    if settled == 0:
        found.append("NO LOAD: nothing was settled; the run proved nothing")

    writes = snapshot.writes
    resent = sum(1 for w in writes if w["times_received"] > 1)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items()))
    print(f"hospital side: {outcomes}")
    print(
        f"REST stay (admit, fees, settle) p50 {_percentile(tally.seconds, 0.5) * 1000:.0f} ms, "
        f"p99 {_percentile(tally.seconds, 0.99) * 1000:.0f} ms"
    )
    print(f"fault phases entered: {dict(faults.counts)}")
    peak = max(samples, key=lambda s: s.depth)
    print(
        f"figures: RSS {baseline.rss_mb:.1f} MB after warm-up → {final.rss_mb:.1f} MB at the end "
        f"(growth {rss_growth:+.1f} MB, max {max(s.rss_mb for s in samples):.1f}); fds "
        f"{baseline.fds} → {final.fds}; DB {samples[0].db_mb:.1f} → {final.db_mb:.1f} MB; "
        f"queue depth max {peak.depth} (at {peak.at}); at-risk max "
        f"{max(s.at_risk for s in samples)}; missed max {max(s.missed for s in samples)}"
    )
    if found:
        print(f"VIOLATION (adapter logs: {folder}):")
        for line in found:
            print(f"  {line}")
        print("SUMMARY load soak FAILED", flush=True)
        return 1
    print(
        f"SUMMARY load soak OK: {clock.stamp()}, {settled} settlements ({len(tally.acked)} over "
        f"REST, {tally.outcomes['hl7 settled']} over HL7), {len(writes)} uploads each "
        f"delivered once ({resent} re-sent), none dead; RSS growth {rss_growth:+.1f} MB "
        f"≤ {args.max_rss_growth_mb:g}; fd growth {fd_growth:+d} ≤ {args.max_fd_growth}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
