"""A stay's cost as it grows: fee batches into a long stay, and settling a 10,000-line stay.

The real runtime as ``serve`` builds it (services, store, upload queue, the reference client
over HTTP to the simulator at 0 ms), on a SQLite file. The treatment catalogue is loaded, as
in a hospital, long before the stays (its rows are dated an hour back: a catalogue loaded
while a line is priced re-prices that line at its next read, see ``adapter.store``).

1. *Growth*: batches of 200 fee lines (with reversals naming earlier lines) recorded into one
   stay, 50 batches, 3 runs. Reported: the median time of the last 3 batches ÷ the median of
   the first 3 (target ≤ 1.5×: a batch costs what its lines cost, not what the stay holds).
2. *Settle*: 5 stays of 10,000 lines settled through the REST API
   (``POST /api/v1/encounters/{id}/settle``), slip not rendered; p50 ÷ the in-process pricing
   of the same 10,000 lines (``price_lines`` + ``make_bill`` against the catalogue in
   memory) timed in the same run (target ≤ 3×). Reported beside it: how long after the answer
   the discharge record (WI2301, its details formatted from the snapshot when it is sent)
   was delivered to the simulator.
3. *Slip*: the slip of one of those settlements rendered as HTML and as PDF
   (``GET /api/v1/settlements/{id}/slip``), timed apart.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, select, text

from adapter.api.server import freeze_startup_heap
from adapter.bootstrap import build_app, load_audit_key
from adapter.demo import insured_regions, load_catalogues
from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.people import CardData, CardKind
from adapter.domain.pricing import price_lines
from adapter.domain.settlement import make_bill
from adapter.services.billing import effective_line
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.store.tokens import ROLES, create_token
from adapter.store.uow import UnitOfWork
from adapter.wiring.runtime import build_runtime
from benchmarks.common import machine, percentile
from connectors.upstream.simulator import start_simulator
from tests.support.live import serving
from tests.support.workers import worker_for
from upload_queue.tables import upload_job

ZONE = ZoneInfo("Asia/Shanghai")
REGION = "110100"
ITEMS = (
    ("XN02BEB001", "布洛芬缓释胶囊", FeeCategory.DRUG, "2", "18.50"),
    ("110900001B", "普通病房床位费（双人间）", FeeCategory.SERVICE, "1", "90.00"),
    ("331601001", "清创缝合术（大）", FeeCategory.TREATMENT, "1", "320.00"),
    ("XA11DBM001", "维生素", FeeCategory.DRUG, "3", "3.30"),
)
# A stay bills one bed day a day (FEE_DAYS_OVER_STAY refuses more bed days than the stay's
# days at settlement): the first batches carry the day's bed line, every other slot of the
# bed item an infusion, so each batch still prices 200 lines of four catalogues.
BED_DAYS = 3
INFUSION = ("120400001", "静脉输液", FeeCategory.TREATMENT, "1", "12.00")


def _batch(stay: int, number: int, size: int, at: datetime) -> list[FeeLine]:
    """``size`` lines; from the second batch on, 5 of them reverse lines of the one before."""
    lines = []
    for n in range(size):
        item = ITEMS[n % len(ITEMS)]
        if item[2] is FeeCategory.SERVICE and (n != 1 or number >= BED_DAYS):
            item = INFUSION
        code, name, category, qty, price = item
        if number > 0 and n < 5:
            code, name, category, _, price = ITEMS[0]
            lines.append(
                FeeLine(f"S{stay}B{number}R{n}", code, name, category, Decimal(-1),
                        Decimal(price), -Decimal(price), at,
                        reverses=f"S{stay}B{number - 1}L{20 + n * len(ITEMS)}")
            )  # fmt: skip
            continue
        quantity = Decimal(qty)
        lines.append(
            FeeLine(f"S{stay}B{number}L{n}", code, name, category, quantity, Decimal(price),
                    quantity * Decimal(price), at)
        )  # fmt: skip
    return lines


def _admit(services: object, sim_url: str, key: str, now: datetime) -> str:
    card = CardData(kind=CardKind.PHYSICAL, card_no=worker_for(sim_url, key))
    admitted = services.admissions.admit(  # type: ignore[attr-defined]
        Admit(card, key, EncounterKind.MEDICAL, now - timedelta(days=3),
              (Diagnosis("S62.301", "左手第三掌骨骨折"),), ("左手",)),
        actor="bench",
    )  # fmt: skip
    return str(admitted.encounter.id)


def _fill(services: object, stay: int, encounter_id: str, batches: int, size: int,
          at: datetime) -> list[float]:  # fmt: skip
    times = []
    for number in range(batches):
        lines = _batch(stay, number, size, at)
        start = time.perf_counter()
        services.fees.record(encounter_id, lines, actor="bench")  # type: ignore[attr-defined]
        times.append(time.perf_counter() - start)
    return times


def _in_process(engine: Engine, encounter_id: str, admitted: datetime, now: datetime) -> float:
    """Seconds to price the stay's lines in memory (best of 3, the catalogue already built)."""
    with UnitOfWork(engine) as uow:
        lines = [effective_line(s) for s in uow.fee_lines.list_stored(encounter_id)]
        catalogue = uow.catalogue.treatment_catalogue(REGION)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        make_bill(price_lines(lines, catalogue, REGION), admitted, now)
        samples.append(time.perf_counter() - start)
    return min(samples)


def _wait_delivered(engine: Engine, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            left = connection.execute(
                select(upload_job.c.id).where(upload_job.c.status != "delivered").limit(1)
            ).first()
        if left is None:
            return
        time.sleep(0.05)
    raise RuntimeError("uploads not all delivered in time")


def run(*, batches: int = 50, size: int = 200, runs: int = 3, settle_stays: int = 5) -> None:
    # The queue runner's scheduler says each skipped poll while a 10,000-line upload drains.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    print(f"stay growth: {batches} batches of {size} lines into one stay — {machine()}")
    print(f"  load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder, start_simulator() as simulator:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        settings = load_settings(database={"url": url})
        settings = settings.model_copy(
            update={
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "schedule": settings.schedule.model_copy(update={"enabled": False}),
                "data_dir": Path(folder),
            }
        )
        runtime = build_runtime(settings, hl7=False)
        engine = runtime.engine
        load_audit_key(settings, engine)  # as serve does: the key before the first entry
        today = datetime.now(ZONE).date()
        load_catalogues(engine, runtime.gateway, REGION, insured_regions(today))
        with engine.begin() as connection:
            connection.execute(text("UPDATE catalogue_item SET loaded_at = :at"),
                               {"at": datetime.now(UTC) - timedelta(hours=1)})  # fmt: skip
        services = runtime.services
        now = datetime.now(ZONE).replace(microsecond=0)
        at = now - timedelta(days=1)
        ratios = []
        stays = []
        for number in range(max(runs, settle_stays)):
            encounter_id = _admit(services, simulator.url, f"GROW{number:03d}", now)
            times = _fill(services, number, encounter_id, batches, size, at)
            stays.append(encounter_id)
            if number < runs:
                first, last = statistics.median(times[:3]), statistics.median(times[-3:])
                ratios.append(last / first)
                early, late = statistics.median(times[:10]), statistics.median(times[-10:])
                print(f"  run {number + 1}: first 3 batches median {first * 1000:7.1f} ms, "
                      f"last 3 median {last * 1000:7.1f} ms  ({batches * size} lines): "
                      f"{last / first:5.2f}x   (first 10 / last 10: {early * 1000:.1f} / "
                      f"{late * 1000:.1f} ms, {late / early:.2f}x)")  # fmt: skip
        print(f"  growth (median of runs)  {statistics.median(ratios):5.2f}x   target ≤ 1.5x")
        app = build_app(settings, runtime)
        token = create_token(engine, "bench-billing", list(ROLES), datetime.now(UTC))
        headers = {"Authorization": f"Bearer {token}"}
        settles = []
        pricing = []
        uploads = []  # the answer → the discharge record (WI2301) delivered
        settlement_id = ""
        freeze_startup_heap()  # as serve does before it starts listening
        with serving(app) as base:
            _wait_delivered(engine)
            for encounter_id in stays[:settle_stays]:
                pricing.append(_in_process(engine, encounter_id, now - timedelta(days=3), now))
                start = time.perf_counter()
                reply = httpx.post(
                    f"{base}/api/v1/encounters/{encounter_id}/settle",
                    json={"discharged_at": datetime.now(ZONE).isoformat()},
                    headers=headers,
                    timeout=120,
                )
                settles.append(time.perf_counter() - start)
                reply.raise_for_status()
                settlement_id = reply.json()["id"]
                answered = time.perf_counter()
                _wait_delivered(engine)  # the discharge record goes up between timings
                uploads.append(time.perf_counter() - answered)
            slip = {}
            for media in ("text/html", "application/pdf"):
                start = time.perf_counter()
                answer = httpx.get(f"{base}/api/v1/settlements/{settlement_id}/slip",
                                   headers={**headers, "Accept": media}, timeout=300)  # fmt: skip
                slip[media] = (time.perf_counter() - start, answer.status_code, len(answer.content))
    settle_p50, price_p50 = percentile(settles, 0.5), percentile(pricing, 0.5)
    lines = batches * size
    print(f"  settle {lines} lines via REST  p50 {settle_p50 * 1000:8.1f} ms  "
          f"(n={len(settles)}, max {max(settles) * 1000:.1f} ms)")  # fmt: skip
    print(f"  in-process pricing        p50 {price_p50 * 1000:8.1f} ms")
    print(f"  settle ÷ pricing          {settle_p50 / price_p50:8.2f}x   target ≤ 3x")
    print(f"  WI2301 delivered          p50 {percentile(uploads, 0.5) * 1000:8.1f} ms after the "
          "answer (details formatted from the snapshot by the worker)")  # fmt: skip
    for media, (seconds, status, size_bytes) in slip.items():
        print(f"  slip {media:<16} {seconds * 1000:8.1f} ms  (HTTP {status}, {size_bytes} bytes)")
    print(f"  load average after (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    run()
