"""The adapter's runtime for the HL7 benchmarks, as ``wi-adapter serve`` wires it.

A scratch database (SQLite in a temporary folder, or a fresh PostgreSQL database), migrated
like production; the upstream simulator in this process; the demo catalogues plus a bulk of
synthetic items; the MLLP listener on a free port. Also what the benchmarks read back from
it (messages stored and accepted) and this process's resident memory.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.hl7_traffic import REGION, SHANGHAI
from scripts.scratch_db import default_admin_url, scratch_database, unreachable

# -- this process's memory -----------------------------------------------------------------------


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
def adapter_runtime(url: str, catalogue_items: int, **hl7: object) -> Iterator[object]:
    """The runtime as ``serve`` wires it; ``hl7`` overrides ``[hl7]`` settings."""
    from adapter.demo import insured_regions, load_catalogues
    from adapter.store.db import make_engine
    from adapter.store.migrate import upgrade
    from adapter.store.uow import UnitOfWork
    from adapter.wiring.runtime import build_runtime
    from connectors.upstream.simulator import start_simulator
    from tests.support.live import simulated_settings
    from tests.support.ports import free_port

    engine = make_engine(url)
    upgrade(engine)
    with start_simulator() as simulator:
        settings = simulated_settings(url, simulator.url, hl7={"port": free_port(), **hl7})
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
def bench_database(kind: str) -> Iterator[str | None]:
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


def stored_accepted(runtime: object, prefix: str) -> int:
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


def senders_results(out: object, process: multiprocessing.process.BaseProcess) -> object:
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
