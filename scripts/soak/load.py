"""Load soak: a steady mixed load on ``wi-adapter serve`` for minutes to hours, with upstream
faults injected in cycles, watching the adapter's memory, file descriptors, database size
and upload queue; at the end everything must be delivered and nothing must have leaked.

The adapter runs as IT runs it (a ``serve`` process from :mod:`tests.reliability.support`,
with its MLLP listener on), the simulator as its own process. This process is the hospital:

* REST desks (``--desks``, 2) admit, record fees and settle stays, as the billing desk does;
* an HL7 sender (``--hl7-senders``, 1) sends ADT^A01, DFT^P03 and ADT^A03 (which settles at
  once under the default site profile) over MLLP, as the HIS does;
* the upload queue drains to the simulator, whose faults follow a cycle (``--cycle-seconds``):
  normal → outage → normal → slow replies (2 s) → lost replies (30 % dropped after commit).

While upstream is out, clerks get a 503 and the HIS an AE: that is the expected behaviour,
counted, and the stay is retried later (as a clerk or the HIS would). Every ``--interval``
seconds one row: the adapter's resident memory (RSS) and open file descriptors, the database
size, the queue's depth and its deadline-at-risk and missed counts.

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
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from adapter.store.db import make_engine
from benchmarks.hl7_ingest import CITIZEN_ID, NAME, SHANGHAI, Client, ack_code, admit_message
from benchmarks.hl7_ingest import dft_message as fees_message
from scripts.soak.checks import read_snapshot, violations
from scripts.soak.common import (
    Clock,
    add_common_arguments,
    database_bytes,
    fresh_database,
    in_work_folder,
    open_fds,
    rss_mb,
    run_seconds,
)
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
from tests.support.workers import seeded_worker

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
class Tally:
    """What the hospital side saw, across threads."""

    acked: dict[str, Decimal] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # anything a clerk should never see
    seconds: list[float] = field(default_factory=list)  # a REST stay, admission to slip
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def settled(self) -> int:
        with self.lock:
            return len(self.acked) + self.outcomes["hl7 settled"]

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _unavailable(reply: httpx.Response) -> bool:
    """The clear 503 a clerk gets while upstream is out or too slow (expected under faults)."""
    return reply.status_code == 503 and reply.headers.get("content-type", "").startswith(
        "application/problem+json"
    )


def _check(reply: httpx.Response, ok: tuple[int, ...], what: str, tally: Tally) -> bool:
    if reply.status_code in ok:
        return True
    if _unavailable(reply):
        tally.count(f"rest {what} 503")
    else:
        tally.problem(f"{what}: {reply.status_code} {reply.text[:300]}")
    return False


def rest_desk(desk: Desk, prefix: str, tally: Tally, stop: threading.Event, pause: float) -> None:
    """A billing desk: a stay at a time; a stay refused for upstream is settled later."""
    waiting: list[str] = []  # admitted, fees recorded, settlement refused (503): retry
    n = 0
    while not stop.wait(pause):
        try:
            if waiting:
                encounter_id = waiting.pop(0)
                began = None
            else:
                n += 1
                began = time.monotonic()
                admitted = desk.admit(f"{prefix}-{n}")
                if not _check(admitted, (200, 201), "admit", tally):
                    continue
                encounter_id = admitted.json()["id"]
                if not _check(desk.fees(encounter_id), (200, 201), "fees", tally):
                    continue
            settled = desk.settle(encounter_id)
            if not _check(settled, (201,), "settle", tally):
                waiting.append(encounter_id)
                continue
        except httpx.TransportError as exc:
            tally.problem(f"{prefix}: the adapter did not answer: {exc!r}")
            continue
        tally.count("rest settled")
        with tally.lock:
            tally.acked[settled.json()["id"]] = Decimal(str(settled.json()["total"]))
            if began is not None:
                tally.seconds.append(time.monotonic() - began)


def _ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def discharge_message(visit: str, admitted: datetime, control_id: str) -> str:
    """ADT^A03 with the discharge time (PV1-45): settles the stay under the site profile."""
    now = datetime.now(SHANGHAI)
    discharged = now.replace(microsecond=0) - timedelta(hours=1)
    pv1 = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: _ts(admitted), 45: _ts(discharged)}
    return "\r".join(
        [
            f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{_ts(now)}||ADT^A03^ADT_A03|{control_id}|"
            "P|2.5|||AL|NE||UNICODE UTF-8",
            "EVN|A03",
            f"PID|1||{CITIZEN_ID}^^^^NI~HISP001^^^^PI||{NAME}||19780314|M",
            "|".join(["PV1", *(pv1.get(i, "") for i in range(1, 46))]),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
        ]
    )


def hl7_sender(
    port: int, prefix: str, tally: Tally, stop: threading.Event, pause: float, sim_url: str = ""
) -> None:
    """The HIS: A01, a day's fees (DFT^P03), A03; a message answered AE is sent again later
    (the HIS's resend), an AR is a problem (this load sends only well-formed messages)."""
    client = Client(port)
    waiting: list[tuple[str, datetime]] = []  # stays whose A03 was answered AE

    def worker(visit: str) -> tuple[tuple[str, str, str], ...]:
        # one open stay per worker (B§28): each visit its own seeded worker
        return (seeded_worker(sim_url, visit),) if sim_url else ()

    n = 0
    try:
        while not stop.wait(pause):
            n += 1
            control = f"{prefix}-{n}"
            if waiting:
                visit, admitted = waiting.pop(0)
                steps = [("A03", discharge_message(visit, admitted, f"{control}-D"))]
            else:
                visit = f"{prefix}-V{n}"
                admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=3)
                steps = [
                    ("A01", admit_message(visit, admitted, f"{control}-A", *worker(visit))),
                    ("P03", fees_message(visit, admitted, 0, 3, f"{control}-F", f"{visit}B")),
                    ("A03", discharge_message(visit, admitted, f"{control}-D")),
                ]
            for event, message in steps:
                code = ack_code(client.send(message))
                tally.count(f"hl7 {event} {code}")
                if code == "AA":
                    continue
                if code == "AR":
                    tally.problem(f"HL7 {event} of {visit} rejected (AR)")
                elif event == "A03":
                    waiting.append((visit, admitted))
                break
            else:
                tally.count("hl7 settled")
    except OSError as exc:
        tally.problem(f"{prefix}: the MLLP listener failed: {exc!r}")
    finally:
        client.close()


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


@dataclass
class Sample:
    at: str
    phase: str
    rss_mb: float
    fds: int
    db_mb: float
    depth: int
    dead: int
    at_risk: int
    missed: int
    settled: int

    HEADER = (
        "  elapsed  phase     RSS MB   fds   DB MB  queue  dead  at-risk  missed  settled\n"
        "  -------  -------  -------  ----  ------  -----  ----  -------  ------  -------"
    )

    def row(self) -> str:
        return (
            f"  {self.at:>7s}  {self.phase:7s}  {self.rss_mb:7.1f}  {self.fds:4d}  "
            f"{self.db_mb:6.1f}  {self.depth:5d}  {self.dead:4d}  {self.at_risk:7d}  "
            f"{self.missed:6d}  {self.settled:7d}"
        )


def sample(
    clock: Clock, adapter: AdapterProcess, desk: Desk, db_url: str, phase: str, settled: int
) -> Sample:
    assert adapter.child is not None
    pid = adapter.child.pid
    summary = desk.summary()
    counts = summary["by_status"]
    return Sample(
        at=clock.stamp(),
        phase=phase,
        rss_mb=rss_mb(pid),
        fds=open_fds(pid),
        db_mb=database_bytes(db_url) / 2**20,
        depth=counts.get("pending", 0) + counts.get("in_flight", 0),
        dead=counts.get("dead", 0),
        at_risk=int(summary["at_risk"]),
        missed=int(summary["missed"]),
        settled=settled,
    )


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
