"""HL7 ingest over MLLP against the real runtime, on SQLite and PostgreSQL (issue 6).

What runs is what ``wi-adapter serve`` wires: :func:`adapter.wiring.runtime.build_runtime`
(services, store, message log, the MLLP listener on a real socket), with the upstream
simulator in this process for the admissions' reads. The database is migrated like
production; the treatment place's catalogue is the simulator's demo catalogue plus a bulk
of synthetic items (``catalogue_items``, 50,000 as in the settlement benchmark), so pricing
looks items up in a hospital-sized index. The upload queue's workers are off: nothing these
messages do is uploaded (admissions queue their WI2401 jobs, which wait).

Measured in one run, per database:

* **DFT^P03** with ``fee_lines`` FT1 segments, one sender, one after another: client-side
  latency from the first byte sent to the ACK read (received → stored → priced → ACK
  stored → sent). Each message is a new batch of lines for one of ``encounters`` admitted
  stays, in turn (each stay grows by a day's fees per round). Against it, hl7apy's own
  ``parse_message`` of the same message text, measured in the same run. Targets (SQLite):
  p50 ≤ 40 ms, and ≥ 15× faster than hl7apy's parse.
* **ADT^A08** (visit update, no upstream call) from ``senders`` concurrent connections in a
  separate process (a HIS is another machine; its threads must not take this process's
  GIL), each waiting for its ACK before the next message: messages/s acknowledged and ACK
  latency. Afterwards every message is checked to be in the log, accepted, ACK stored.
  Target (SQLite): ≥ 500 messages/s.
* Resident memory of this process idle (runtime built, catalogue loaded, listener up) and
  its peak under the ingest load (sampled every 20 ms).

Run: ``python -m benchmarks hl7_ingest`` (or ``python -m benchmarks.hl7_ingest``).
PostgreSQL: ``ADAPTER_TEST_PG_URL`` (default the loopback server); a fresh database is
created and dropped; skipped when the server does not answer.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.common import machine, percentile
from scripts.scratch_db import default_admin_url, scratch_database, unreachable
from tests.support.workers import seeded_worker

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGION = "110100"
CARD_NO, CITIZEN_ID, NAME = "310100A0001", "310102197803141310", "王建国"
# (item code, name, coding system, unit price): items of the demo catalogue.
ITEMS = [
    ("XN02BEB001", "布洛芬缓释胶囊", "99DRUG", "18.50"),
    ("XJ01DCC061", "头孢呋辛酯片", "99DRUG", "32.00"),
    ("XB05BBA001", "氯化钠注射液（0.9%，250ml）", "99DRUG", "4.20"),
    ("331601001", "清创缝合术（大）", "99TREAT", "320.00"),
    ("120400001", "静脉输液", "99TREAT", "12.00"),
    ("120600001", "大换药", "99TREAT", "45.00"),
    ("111100001", "一级护理", "99SERV", "26.00"),
    ("110200005", "住院诊查费", "99SERV", "20.00"),
    ("340200001", "运动疗法", "99REHAB", "45.00"),
    ("340200019", "手功能训练", "99REHAB", "38.00"),
]


# -- messages ---------------------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def _msh(kind: str, event: str, control_id: str) -> str:
    return (
        f"MSH|^~\\&|HIS|H1|WIADAPTER|H11010000001|{_ts(datetime.now(UTC))}||"
        f"{kind}^{event}^{kind}_{event}|{control_id}|P|2.5|||AL|NE||UNICODE UTF-8"
    )


def _pv1(visit: str, admitted: datetime) -> str:
    fields = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: _ts(admitted)}
    return "|".join(["PV1", *(fields.get(i, "") for i in range(1, 45))])


def _pid(citizen_id: str = CITIZEN_ID, name: str = NAME) -> str:
    return f"PID|1||{citizen_id}^^^^NI~HISP001^^^^PI||{name}||19780314|M"


def admit_message(
    visit: str,
    admitted: datetime,
    control_id: str,
    worker: tuple[str, str, str] = (CARD_NO, CITIZEN_ID, NAME),
) -> str:
    """A01 for ``worker`` (card, citizen ID, name); one open stay per worker (B§28), so a run
    keeping many stays open admits each for its own seeded worker (tests/support/workers.py)."""
    card_no, citizen_id, name = worker
    return "\r".join(
        [
            _msh("ADT", "A01", control_id),
            "EVN|A01",
            _pid(citizen_id, name),
            _pv1(visit, admitted),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
            f"ZWI|P|{card_no}||左手|medical",
        ]
    )


_BULK_KINDS = (("DR", "99DRUG"), ("TR", "99TREAT"), ("SE", "99SERV"), ("RE", "99REHAB"))


def dft_message(
    visit: str,
    admitted: datetime,
    day: int,
    lines: int,
    control_id: str,
    batch: str,
    bulk_items: int = 0,
) -> str:
    """A day's fees: two lines in three from the demo catalogue's items, the third from the
    bulk catalogue (a different item each, chosen at random), so pricing meets ~80 items."""
    when = admitted + timedelta(days=day, hours=2)
    rng = random.Random(batch)
    ft1s = []
    for number in range(lines):
        code, name, system, price = ITEMS[number % len(ITEMS)]
        if bulk_items and number % 3 == 2:
            item = rng.randrange(bulk_items)
            prefix, system = _BULK_KINDS[item % len(_BULK_KINDS)]
            code, name, price = f"B{prefix}{item:06d}", f"批量项目{item}", f"{item % 90 + 10}.00"
        quantity = 1 + number % 3
        amount = Decimal(price) * quantity
        ft1s.append(
            f"FT1|{number + 1}|{batch}-{number:04d}||{_ts(when + timedelta(minutes=number))}||CG|"
            f"{code}^{name}^{system}|||{quantity}|{amount:.2f}|{price}|ORT^骨科"
        )
    return "\r".join(
        [_msh("DFT", "P03", control_id), "EVN|P03", _pid(), _pv1(visit, admitted), *ft1s]
    )


def a08_message(visit: str, admitted: datetime, control_id: str, number: int) -> str:
    return "\r".join(
        [
            _msh("ADT", "A08", control_id),
            "EVN|A08",
            _pid(),
            _pv1(visit, admitted).replace("骨科病区", f"骨科{number % 4 + 1}病区"),
            "DG1|1||S62.301^左手第三掌骨骨折^I10",
        ]
    )


# -- an MLLP client -----------------------------------------------------------------------------


class Client:
    """One HIS connection in original mode: send a message, wait for its ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, text_: str) -> str:
        self.sock.sendall(b"\x0b" + text_.encode("utf-8") + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed without an ACK")
            data += chunk
        return data[1:-2].decode("utf-8")

    def close(self) -> None:
        self.sock.close()


def ack_code(ack: str) -> str:
    msa = next(line for line in ack.split("\r") if line.startswith("MSA|"))
    return msa.split("|")[1]


def _a08_sender(
    port: int, visit: str, admitted_iso: str, count: int, prefix: str, barrier: object
) -> tuple[list[float], list[str], float, float]:
    """One sender thread's work: (latencies, ACK codes, start, end)."""
    admitted = datetime.fromisoformat(admitted_iso)
    messages = [a08_message(visit, admitted, f"{prefix}-{n}", n) for n in range(count)]
    client = Client(port)
    latencies, codes = [], []
    barrier.wait()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for message in messages:
        began = time.perf_counter()
        codes.append(ack_code(client.send(message)))
        latencies.append(time.perf_counter() - began)
    end = time.perf_counter()
    client.close()
    return latencies, codes, start, end


def _a08_process(
    port: int, visits: list[str], admitted_iso: str, count: int, run_id: str, out: object
) -> None:
    """The senders' process: one thread per visit; reports results through ``out``."""
    barrier = threading.Barrier(len(visits))
    results: list[tuple[list[float], list[str], float, float]] = [([], [], 0.0, 0.0)] * len(visits)

    def work(index: int, visit: str) -> None:
        results[index] = _a08_sender(
            port, visit, admitted_iso, count, f"{run_id}-S{index}", barrier
        )

    threads = [threading.Thread(target=work, args=(i, visit)) for i, visit in enumerate(visits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)  # type: ignore[attr-defined]


# -- measuring ----------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """The peak resident memory while the block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> RssSampler:
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def _ms(samples: list[float]) -> str:
    return (
        f"p50 {percentile(samples, 0.5) * 1000:8.2f} ms   "
        f"p99 {percentile(samples, 0.99) * 1000:8.2f} ms   n={len(samples)}"
    )


@dataclass
class Figures:
    database: str
    dft_latencies: list[float] = field(default_factory=list)
    hl7apy_parse: list[float] = field(default_factory=list)
    a08_latencies: list[float] = field(default_factory=list)
    a08_rate: float = 0.0
    a08_count: int = 0
    rss_idle: float = 0.0
    rss_peak: float = 0.0
    a01_latencies: list[float] = field(default_factory=list)


# -- the runtime --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bulk_catalogue(count: int, today: date) -> list[object]:
    from adapter.domain.catalogue import CatalogueItem, CatalogueKind

    kinds = [
        CatalogueKind.DRUG,
        CatalogueKind.TREATMENT,
        CatalogueKind.SERVICE_STANDARD,
        CatalogueKind.REHAB,
    ]
    start = date(today.year, 1, 1)
    items: list[object] = []
    for number in range(count):
        kind = kinds[number % len(kinds)]
        cap = Decimal(30 + number % 170) if kind is CatalogueKind.SERVICE_STANDARD else None
        items.append(
            CatalogueItem(
                kind,
                f"B{kind.value[:2].upper()}{number:06d}",
                f"批量项目{number}",
                REGION,
                price_cap=cap,
                version=f"{today.year}.1",
                valid_from=start,
            )
        )
    return items


@contextmanager
def _runtime(url: str, catalogue_items: int, **hl7: object) -> Iterator[object]:
    """The runtime as ``serve`` wires it; ``hl7`` overrides ``[hl7]`` settings."""
    from adapter.demo import insured_regions, load_catalogues
    from adapter.settings import load_settings
    from adapter.store.db import make_engine
    from adapter.store.migrate import upgrade
    from adapter.store.uow import UnitOfWork
    from adapter.wiring.runtime import build_runtime
    from connectors.upstream.simulator import start_simulator

    engine = make_engine(url)
    upgrade(engine)
    with start_simulator() as simulator:
        settings = load_settings(database={"url": url})
        settings = settings.model_copy(
            update={
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "hl7": settings.hl7.model_copy(update={"port": _free_port(), **hl7}),
            }
        )
        runtime = build_runtime(settings, engine=engine, workers=0)
        today = datetime.now(SHANGHAI).date()
        load_catalogues(runtime.engine, runtime.gateway, REGION, insured_regions(today))
        if catalogue_items:
            with UnitOfWork(runtime.engine) as uow:
                uow.catalogue.load(_bulk_catalogue(catalogue_items, today))  # type: ignore[arg-type]
                uow.commit()
        runtime.start()
        try:
            yield runtime
        finally:
            runtime.stop()


@contextmanager
def _database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-hl7-") as folder:
            yield f"sqlite:///{Path(folder) / 'adapter.db'}"
        return
    admin_url = default_admin_url()
    why = unreachable(admin_url)
    if why is not None:
        print(
            f"PostgreSQL skipped: {make_url(admin_url).render_as_string()} does not answer ({why})"
        )
        yield None
        return
    with scratch_database(admin_url, "bench_hl7") as url:
        yield url


def _stored_accepted(runtime: object, prefix: str) -> int:
    from connectors.hl7.message_tables import hl7_message

    query = (
        select(func.count())
        .select_from(hl7_message)
        .where(
            hl7_message.c.control_id.like(f"{prefix}%"),
            hl7_message.c.outcome == "accepted",
            hl7_message.c.ack.is_not(None),
        )
    )
    with runtime.engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(query).scalar_one())


def measure(
    kind: str,
    *,
    dft_messages: int,
    fee_lines: int,
    encounters: int,
    senders: int,
    a08_per_sender: int,
    catalogue_items: int,
    hl7apy_repeats: int,
) -> Figures | None:
    with _database(kind) as url:
        if url is None:
            return None
        figures = Figures(kind)
        with _runtime(url, catalogue_items) as runtime:
            port = runtime.hl7.port  # type: ignore[attr-defined]
            run_id = uuid.uuid4().hex[:8]
            admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=20)
            visits = [f"BV{run_id}{n:03d}" for n in range(max(encounters, senders))]
            client = Client(port)
            sim_url = runtime.settings.upstream.base_url  # type: ignore[attr-defined]
            for n, visit in enumerate(visits):
                worker = seeded_worker(sim_url, visit)
                began = time.perf_counter()
                ack = client.send(admit_message(visit, admitted, f"{run_id}-A{n}", worker))
                figures.a01_latencies.append(time.perf_counter() - began)
                if ack_code(ack) != "AA":
                    raise RuntimeError(f"admission refused: {ack}")
            figures.rss_idle = rss_mb()

            dfts = [
                dft_message(
                    visits[n % encounters],
                    admitted,
                    n // encounters,
                    fee_lines,
                    f"{run_id}-D{n}",
                    f"{run_id}D{n}",
                    catalogue_items,
                )
                for n in range(dft_messages + 1)
            ]
            with RssSampler() as sampler:
                client.send(dfts[0])  # warm-up (first prices, imports)
                for message in dfts[1:]:
                    began = time.perf_counter()
                    ack = client.send(message)
                    figures.dft_latencies.append(time.perf_counter() - began)
                    if ack_code(ack) != "AA":
                        raise RuntimeError(f"DFT refused: {ack[:400]}")
                client.close()

                context = multiprocessing.get_context("spawn")
                out = context.Queue()
                process = context.Process(
                    target=_a08_process,
                    args=(
                        port,
                        visits[:senders],
                        admitted.isoformat(),
                        a08_per_sender,
                        f"{run_id}-U",
                        out,
                    ),
                )
                process.start()
                results = _results(out, process)
            figures.rss_peak = sampler.peak
            codes = [code for _lat, codes, _s, _e in results for code in codes]
            if set(codes) != {"AA"}:
                raise RuntimeError(f"A08 ACK codes: {statistics.multimode(codes)}")
            figures.a08_latencies = [lat for lats, _c, _s, _e in results for lat in lats]
            figures.a08_count = len(codes)
            start = min(s for _l, _c, s, _e in results)
            end = max(e for _l, _c, _s, e in results)
            figures.a08_rate = len(codes) / (end - start)
            stored = _stored_accepted(runtime, f"{run_id}-U")
            if stored != len(codes):
                raise RuntimeError(f"{len(codes)} A08 acknowledged but {stored} stored")

        from hl7apy.parser import parse_message

        sample = dfts[-1]
        figures.hl7apy_parse = _timed(lambda: parse_message(sample), hl7apy_repeats)
    return figures


def _results(out: object, process: multiprocessing.process.BaseProcess) -> object:
    """The senders' results, or an error if their process died without any."""
    import queue

    while True:
        try:
            results = out.get(timeout=1.0)  # type: ignore[attr-defined]
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"the senders' process ended ({process.exitcode})") from None
            continue
        process.join()
        return results


def _timed(function: Callable[[], object], repeats: int) -> list[float]:
    function()
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        samples.append(time.perf_counter() - began)
    return samples


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def report(figures: Figures, *, fee_lines: int, senders: int, target: bool) -> None:
    dft_p50 = percentile(figures.dft_latencies, 0.5)
    parse_p50 = percentile(figures.hl7apy_parse, 0.5)
    ratio = parse_p50 / dft_p50
    print(f"[{figures.database}]")
    print(f"  ADT^A01 admit (setup, 2 upstream reads)  {_ms(figures.a01_latencies)}")
    print(f"  DFT^P03 {fee_lines} FT1 → ACK (1 sender)    {_ms(figures.dft_latencies)}")
    print(f"  hl7apy parse_message, same DFT         {_ms(figures.hl7apy_parse)}")
    print(f"  hl7apy parse / our whole ingest        {ratio:8.1f}x")
    print(
        f"  ADT^A08 × {senders} senders               {figures.a08_rate:8.0f} messages/s "
        f"acknowledged ({figures.a08_count} messages, all stored before ACK)"
    )
    print(f"  ADT^A08 ACK latency                    {_ms(figures.a08_latencies)}")
    print(
        f"  resident memory                        idle {figures.rss_idle:6.0f} MB   "
        f"under ingest load (peak) {figures.rss_peak:6.0f} MB"
    )
    if target:
        met = "met" if dft_p50 <= 0.040 else "NOT met"
        print(f"  target DFT p50 <= 40 ms:               {met} ({dft_p50 * 1000:.1f} ms)")
        met = "met" if ratio >= 15 else "NOT met"
        print(f"  target >= 15x faster than hl7apy:      {met} ({ratio:.1f}x)")
        met = "met" if figures.a08_rate >= 500 else "NOT met"
        print(f"  target A08 >= 500 messages/s:          {met} ({figures.a08_rate:.0f}/s)")


def run(
    *,
    dft_messages: int = 50,
    fee_lines: int = 200,
    encounters: int = 10,
    senders: int = 8,
    a08_per_sender: int = 150,
    catalogue_items: int = 50_000,
    hl7apy_repeats: int = 5,
    databases: tuple[str, ...] = ("sqlite", "postgresql"),
) -> dict[str, Figures]:
    """Measure and print; returns the figures by database (for scripts)."""
    import logging

    logging.getLogger("connectors.hl7").setLevel(logging.ERROR)
    print(f"HL7 ingest benchmark — {machine()}; {_load()} at start")
    print(
        f"workload: real runtime (services, store, MLLP listener on loopback), simulator "
        f"in-process; catalogue: demo + {catalogue_items} items; {encounters} admitted stays; "
        f"{dft_messages} DFT^P03 of {fee_lines} FT1 (a new batch each, stays in turn; "
        f"~80 distinct items a message); "
        f"{senders} senders × {a08_per_sender} ADT^A08 from a separate process; "
        f"hl7apy parse ×{hl7apy_repeats}"
    )
    results: dict[str, Figures] = {}
    for kind in databases:
        figures = measure(
            kind,
            dft_messages=dft_messages,
            fee_lines=fee_lines,
            encounters=encounters,
            senders=senders,
            a08_per_sender=a08_per_sender,
            catalogue_items=catalogue_items,
            hl7apy_repeats=hl7apy_repeats,
        )
        if figures is None:
            continue
        results[kind] = figures
        report(figures, fee_lines=fee_lines, senders=senders, target=kind == "sqlite")
    print(f"  ({_load()} at end; other engineers' tests share the 2 cores)")
    return results


if __name__ == "__main__":
    run()
