"""Month-end at size (issue 17): a month of 50,000 settlements reconciled, and the clearing
list, in bounded memory and in a time close to reading the month once.

The database (SQLite, migrated as in production) is seeded in bulk with one month of
``count`` settlements (:mod:`benchmarks.month_end_workload`), one stay each, each with its
discharge (``WI2301``) or device (``WI2701``) upload: 99 % delivered (in the queue's
delivery ledger), 1 % still queued; one in 200 revoked. Upstream's figures (``WI3201``) are
built by an in-process gateway from the same numbers, with a few differences planted
(amounts, missing on either side), so the comparison has work to do. Building them
(upstream's answer, as the client would parse it) is inside the memory figure but not the
time: the time is the adapter's own work.

Measured, each in a **fresh process** (``python -m benchmarks.month_end --child …``) so
nothing of the seeding is in its heap:

* **time**: :meth:`Reconciliations.run` of the month (local settlements streamed with their
  uploads' delivery state, compared with upstream's, the run and its differences and lines
  kept) against **one plain SQL query** reading and totalling the same month — the same
  settlements joined to their stays, read through the DB-API cursor, the three amounts
  summed as ``Decimal`` — alternating, ``repeats`` of each; medians. Target ≤ 3×. The same
  query through SQLAlchemy Core with the store's typed columns (what every read of the store
  pays per row) is timed too and the ratio to it reported beside, and so is the ratio in
  process time (``time.process_time``: what the other processes of a shared machine disturb
  least; the target is the wall-clock one).
  :meth:`Clearing.at_risk` (the clearing list: every settlement upload of the last 250 days
  still pending, dead or late) is timed alongside.
* **memory**: peak resident memory (``VmHWM``, reset through ``/proc/self/clear_refs``
  before the run) above the idle process (runtime built, nothing read), one reconciliation
  and, in another fresh process, one clearing list. Target ≤ 200 MB.

Run: ``python -m benchmarks month_end`` (short: 10,000 settlements) or ``BENCH_FULL=1``
(50,000); ``python -m benchmarks.month_end [count]``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import machine
from benchmarks.month_end_workload import (
    INSTITUTION,
    ZONE,
    FiguresGateway,
    last_month,
    period,
    seed,
)

# -- the measuring process ----------------------------------------------------------------------


def _status(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process, MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # resets VmHWM to the current resident size (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def plain_query(engine: Any, month: str) -> tuple[int, Decimal, Decimal, Decimal]:
    """One plain SQL query reading and totalling the month: the floor of reading it."""
    start, end = period(month)
    from adapter.store.types import UTCDateTime  # the stored form of a time

    bind = UTCDateTime().bind_processor(engine.dialect)
    low = bind(start) if bind else start
    high = bind(end) if bind else end
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = (
        "SELECT s.id, s.settled_at, s.slip_no, s.status, s.total, s.fund_pay, s.personal_pay, "
        "e.psn_no, e.kind FROM settlement s JOIN encounter e ON e.id = s.encounter_id "
        f"WHERE s.settled_at >= {mark} AND s.settled_at < {mark} AND e.institution_code = {mark}"
    )
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, (low, high, INSTITUTION))
        count, total, fund, personal = 0, Decimal(0), Decimal(0), Decimal(0)
        for row in cursor:
            if row[3] == "revoked":
                continue
            count += 1
            # SQLite hands NUMERIC back as float: through its shortest repr, as the store does
            total += Decimal(str(row[4]))
            fund += Decimal(str(row[5]))
            personal += Decimal(str(row[6]))
        cursor.close()
    finally:
        connection.close()
    return count, total, fund, personal


def core_query(engine: Any, month: str) -> tuple[int, Decimal, Decimal, Decimal]:
    """The same query through SQLAlchemy Core with the store's column types (what any read
    of the store pays per row: exact ``Decimal`` amounts, aware times), totals in Python."""
    from sqlalchemy import select

    from adapter.store.sql import table
    from adapter.store.tables import EncounterRow, SettlementRow

    settlement, encounter = table(SettlementRow), table(EncounterRow)
    start, end = period(month)
    query = (
        select(
            settlement.c.id, settlement.c.settled_at, settlement.c.slip_no, settlement.c.status,
            settlement.c.total, settlement.c.fund_pay, settlement.c.personal_pay,
            encounter.c.psn_no, encounter.c.kind,
        )
        .join(encounter, encounter.c.id == settlement.c.encounter_id)
        .where(
            settlement.c.settled_at >= start, settlement.c.settled_at < end,
            encounter.c.institution_code == INSTITUTION,
        )
    )  # fmt: skip
    count, total, fund, personal = 0, Decimal(0), Decimal(0), Decimal(0)
    with engine.connect() as connection:
        for row in connection.execute(query):
            if row.status == "revoked":
                continue
            count += 1
            total += row.total
            fund += row.fund_pay
            personal += row.personal_pay
    return count, total, fund, personal


def _context(url: str, count: int) -> tuple[Any, Any]:
    from adapter.services.monthly import MonthlyServices
    from adapter.settings import load_settings
    from adapter.store.db import make_engine
    from adapter.wiring.runtime import build_runtime

    engine = make_engine(url)
    settings = load_settings(database={"url": url})
    runtime = build_runtime(settings, engine=engine, workers=0)
    context = runtime.services.context
    context = dataclasses.replace(context, gateway=FiguresGateway(context.gateway, count))
    return MonthlyServices(context), engine


def child(mode: str, url: str, count: int, month: str, repeats: int) -> dict[str, Any]:
    import gc

    monthly, engine = _context(url, count)
    with engine.connect():
        pass
    gc.collect()
    if mode == "time":
        floor, core, reconcile, clearing = [], [], [], []
        floor_cpu, reconcile_cpu = [], []  # process time: what other processes disturb least
        plain_query(engine, month)  # warm-up: the file in the page cache
        # upstream's answer is upstream's work (and the network's): built once, not timed
        monthly.context.gateway.reconciliation(month)
        for _ in range(repeats):
            began, cpu = time.perf_counter(), time.process_time()
            totals = plain_query(engine, month)
            floor.append(time.perf_counter() - began)
            floor_cpu.append(time.process_time() - cpu)
            began = time.perf_counter()
            if core_query(engine, month) != totals:
                raise RuntimeError("the two plain queries disagree")
            core.append(time.perf_counter() - began)
            began, cpu = time.perf_counter(), time.process_time()
            report = monthly.reconciliation.run(month, actor="bench")
            reconcile.append(time.perf_counter() - began)
            reconcile_cpu.append(time.process_time() - cpu)
            began = time.perf_counter()
            at_risk = monthly.clearing.at_risk()
            clearing.append(time.perf_counter() - began)
        result = report.result
        assert result is not None
        if (result.local.count, *vars(result.local.amounts).values()) != totals:
            raise RuntimeError(f"reconciliation's totals {result.local} differ from {totals}")
        return {
            "floor": floor,
            "core": core,
            "reconcile": reconcile,
            "floor_cpu": floor_cpu,
            "reconcile_cpu": reconcile_cpu,
            "clearing": clearing,
            "settlements": len(report.lines),
            "differences": len(result.differences),
            "at_risk": len(at_risk.items),
            "local_count": result.local.count,
        }
    idle = _status("VmRSS")
    exact = _reset_peak()
    began = time.perf_counter()
    if mode == "reconcile":
        report = monthly.reconciliation.run(month, actor="bench")
        size = len(report.lines)
        del report
    else:
        size = len(monthly.clearing.at_risk().items)
    return {
        "idle": idle,
        "peak": _status("VmHWM"),
        "exact": exact,
        "seconds": time.perf_counter() - began,
        "size": size,
    }


def _spawn(mode: str, url: str, count: int, month: str, repeats: int = 1) -> dict[str, Any]:
    reply = subprocess.run(
        [sys.executable, "-m", "benchmarks.month_end", "--child", mode, url, str(count), month,
         str(repeats)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if reply.returncode != 0:
        raise RuntimeError(f"the {mode} process failed:\n{reply.stderr[-3000:]}")
    return dict(json.loads(reply.stdout.strip().splitlines()[-1]))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def run(count: int = 50_000, repeats: int = 3) -> dict[str, Any]:
    print(f"Month-end benchmark (SQLite) — {machine()}; {_load()} at start")
    month = last_month(datetime.now(ZONE).date())
    with tempfile.TemporaryDirectory(prefix="bench-month-") as folder:
        url = f"sqlite:///{Path(folder) / 'adapter.db'}"
        began = time.perf_counter()
        seed(url, count, month)
        print(
            f"workload: {count:,} settlements in {month}, one stay and one upload each "
            f"(99 % delivered), seeded in {time.perf_counter() - began:.1f} s; each figure "
            f"from a fresh process"
        )
        memory = _spawn("reconcile", url, count, month)
        clearing_memory = _spawn("clearing", url, count, month)
        times = _spawn("time", url, count, month, repeats)
    floor = statistics.median(times["floor"])
    reconcile = statistics.median(times["reconcile"])
    clearing = statistics.median(times["clearing"])
    pairs = zip(times["reconcile"], times["floor"], strict=True)
    ratio = statistics.median(r / f for r, f in pairs)
    peak = memory["peak"] - memory["idle"]
    clearing_peak = clearing_memory["peak"] - clearing_memory["idle"]

    def ms(samples: list[float]) -> str:
        return ", ".join(f"{s * 1000:.0f}" for s in samples)

    print(
        f"  one plain SQL query reading and totalling the month  {floor * 1000:8.0f} ms "
        f"(runs: {ms(times['floor'])})"
    )
    print(
        f"  reconciliation (Reconciliations.run)                 {reconcile * 1000:8.0f} ms "
        f"(runs: {ms(times['reconcile'])}); {times['settlements']:,} lines, "
        f"{times['differences']} differences"
    )
    core = statistics.median(times["core"])
    core_ratio = statistics.median(
        r / f for r, f in zip(times["reconcile"], times["core"], strict=True)
    )
    print(
        f"  the same query through SQLAlchemy Core (typed rows)  {core * 1000:8.0f} ms "
        f"(runs: {ms(times['core'])})"
    )
    print(f"  reconciliation ÷ plain query, DB-API (median)        {ratio:8.2f}×")
    print(f"  reconciliation ÷ plain query, Core (median)          {core_ratio:8.2f}×")
    cpu_ratio = statistics.median(
        r / f for r, f in zip(times["reconcile_cpu"], times["floor_cpu"], strict=True)
    )
    print(
        f"  the same in process time, DB-API (median)            {cpu_ratio:8.2f}× "
        f"(plain: {ms(times['floor_cpu'])}; reconciliation: {ms(times['reconcile_cpu'])} ms)"
    )
    print(
        f"  clearing list (Clearing.at_risk)                     {clearing * 1000:8.0f} ms "
        f"(runs: {ms(times['clearing'])}); {times['at_risk']} uploads at risk"
    )
    hwm = "" if memory["exact"] else " (VmHWM could not be reset: includes start-up)"
    print(
        f"  resident memory, reconciliation: idle {memory['idle']:.0f} MB, peak "
        f"{memory['peak']:.0f} MB: **{peak:.0f} MB above idle**{hwm}"
    )
    print(
        f"  resident memory, clearing list:  idle {clearing_memory['idle']:.0f} MB, peak "
        f"{clearing_memory['peak']:.0f} MB: {clearing_peak:.0f} MB above idle"
    )
    met = "met" if ratio <= 3 else "NOT met"
    print(f"  target reconciliation ≤ 3× the plain query (DB-API):  {met} ({ratio:.2f}×)")
    met = "met" if core_ratio <= 3 else "NOT met"
    print(f"  the same against the Core query:                      {met} ({core_ratio:.2f}×)")
    met = "met" if peak <= 200 else "NOT met"
    print(f"  target peak ≤ 200 MB above idle:             {met} ({peak:.0f} MB)")
    print(f"  ({_load()} at end)")
    return {"times": times, "memory": memory, "clearing_memory": clearing_memory}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        mode, url, count, month, repeats = sys.argv[2:7]
        print(json.dumps(child(mode, url, int(count), month, int(repeats))))
    else:
        run(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
