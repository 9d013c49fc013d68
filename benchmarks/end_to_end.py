"""Discharge settled → upstream acknowledged, end to end, with the simulator at 20 ms latency.

The real runtime as ``serve`` wires it (services, store, upload queue and its workers, the
reference client over real HTTP to the simulator), on a SQLite file and on PostgreSQL. Each
stay is admitted with a few fee lines; then the stays are settled one after another and, for
each, the time from the settlement's commit to upstream's acknowledgement of its discharge
record (WI2301) is read from the queue (``delivered_at − created_at``, the job being created
in the settlement's own transaction). Baseline measured in the same run: one read round trip
through the same client to the same simulator (the institution status, WI1301): what a
single upstream exchange costs here, against which the whole settle-to-ack path is compared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from adapter.demo import insured_regions, load_catalogues
from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.people import CardData, CardKind
from adapter.services.settlement import SettleRequest
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.wiring.runtime import build_runtime
from benchmarks.common import machine, percentile
from connectors.upstream.simulator import start_simulator
from scripts.scratch_db import default_admin_url, scratch_database
from tests.support.workers import worker_for
from upload_queue.tables import upload_job

ZONE = ZoneInfo("Asia/Shanghai")
PG_ADMIN = default_admin_url()
LATENCY_MS = 20


def _lines(now: datetime) -> list[FeeLine]:
    items = [
        ("XN02BEB001", "布洛芬缓释胶囊", FeeCategory.DRUG, "2", "18.50"),
        ("110900001B", "普通病房床位费（双人间）", FeeCategory.SERVICE, "3", "90.00"),
        ("331601001", "清创缝合术（大）", FeeCategory.TREATMENT, "1", "320.00"),
    ]
    return [
        FeeLine(f"L{i}", code, name, category, Decimal(qty), Decimal(price),
                Decimal(qty) * Decimal(price), now - timedelta(days=1))
        for i, (code, name, category, qty, price) in enumerate(items, start=1)
    ]  # fmt: skip


def one_database(label: str, url: str, stays: int) -> None:
    with start_simulator() as simulator:
        engine_url = url
        upgrade(engine_url)
        settings = load_settings(database={"url": engine_url})
        settings = settings.model_copy(
            update={
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "queue": settings.queue.model_copy(update={"workers": 2, "poll_seconds": 1.0}),
                "schedule": settings.schedule.model_copy(update={"enabled": False}),
            }
        )
        runtime = build_runtime(settings, hl7=False)
        today = datetime.now(ZONE).date()
        load_catalogues(runtime.engine, runtime.gateway, "110100", insured_regions(today))
        services = runtime.services
        now = datetime.now(ZONE).replace(microsecond=0)
        encounters = []
        for number in range(stays):
            # one open stay per worker and kind (B§28): each stay its own seeded worker
            card_no = worker_for(simulator.url, f"BENCH{number:04d}")
            card = CardData(kind=CardKind.PHYSICAL, card_no=card_no)
            admitted = services.admissions.admit(
                Admit(card, f"BENCH{number:04d}", EncounterKind.MEDICAL, now - timedelta(days=3),
                      (Diagnosis("S62.301", "左手第三掌骨骨折"),), ("左手",)),
                actor="bench",
            )  # fmt: skip
            services.fees.record(admitted.encounter.id, _lines(now), actor="bench")
            encounters.append(admitted.encounter.id)
        runtime.start()
        try:
            httpx.post(f"{simulator.url}/_sim/faults", json={"latency_ms": LATENCY_MS})
            # drain the admissions' uploads first, so only the discharge records are timed
            _wait_all_delivered(runtime.engine, timeout=120)
            baseline = _baseline(runtime, stays=20)
            started = time.perf_counter()
            for encounter_id in encounters:
                services.settlements.settle(
                    SettleRequest(encounter_id, datetime.now(ZONE)), actor="bench"
                )
            _wait_all_delivered(runtime.engine, timeout=300)
            elapsed = time.perf_counter() - started
            with runtime.engine.connect() as connection:
                rows = connection.execute(
                    select(upload_job.c.created_at, upload_job.c.delivered_at).where(
                        upload_job.c.kind == "WI2301"
                    )
                ).all()
        finally:
            runtime.stop()
    acks = [(delivered - created).total_seconds() for created, delivered in rows]
    p50, p99 = percentile(acks, 0.5), percentile(acks, 0.99)
    base = percentile(baseline, 0.5)
    print(f"\n{label}: {stays} stays settled one after another, simulator latency {LATENCY_MS} ms")
    print(f"  settled → acknowledged   p50 {p50 * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms"
          f"   mean {statistics.fmean(acks) * 1000:8.1f} ms")  # fmt: skip
    print(f"  one read round trip     p50 {base * 1000:8.1f} ms")
    print(f"  ack p50 / read p50       {p50 / base:8.1f}x")
    print(f"  all {len(acks)} discharge records acknowledged in {elapsed:.1f} s;"
          f" within 30 min: {sum(a < 1800 for a in acks)}/{len(acks)}")  # fmt: skip


def _baseline(runtime: object, stays: int) -> list[float]:
    gateway = runtime.gateway  # type: ignore[attr-defined]
    samples = []
    for _ in range(stays):
        start = time.perf_counter()
        gateway.institution_status("H11010000001", context="bench")
        samples.append(time.perf_counter() - start)
    return samples


def _wait_all_delivered(engine: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:  # type: ignore[attr-defined]
            left = connection.execute(
                select(upload_job.c.id).where(upload_job.c.status != "delivered").limit(1)
            ).first()
        if left is None:
            return
        time.sleep(0.05)
    raise RuntimeError("uploads not all delivered in time")


def run(stays: int = 60) -> None:
    print(f"end to end: discharge settled → upstream acknowledged — {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        one_database("SQLite (WAL, file)", f"sqlite:///{folder}/bench.db", stays)
    with scratch_database(PG_ADMIN, "wi_bench") as url:
        one_database("PostgreSQL (loopback)", url, stays)


if __name__ == "__main__":
    run()
