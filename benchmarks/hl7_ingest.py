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

The messages and the senders are :mod:`benchmarks.hl7_traffic`'s; the runtime is
:mod:`benchmarks.hl7_runtime`'s.

Run: ``python -m benchmarks hl7_ingest`` (or ``python -m benchmarks.hl7_ingest``).
PostgreSQL: ``ADAPTER_TEST_PG_URL`` (default the loopback server); a fresh database is
created and dropped; skipped when the server does not answer.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from benchmarks.common import load_average, machine, percentile, timed
from benchmarks.hl7_runtime import (
    RssSampler,
    adapter_runtime,
    bench_database,
    rss_mb,
    senders_results,
    stored_accepted,
)
from benchmarks.hl7_traffic import (
    SHANGHAI,
    Client,
    a08_senders,
    ack_code,
    admit_message,
    dft_message,
)
from tests.support.workers import seeded_worker


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
    with bench_database(kind) as url:
        if url is None:
            return None
        figures = Figures(kind)
        with adapter_runtime(url, catalogue_items) as runtime:
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
                    target=a08_senders,
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
                results = senders_results(out, process)
            figures.rss_peak = sampler.peak
            codes = [code for _lat, codes, _s, _e in results for code in codes]
            if set(codes) != {"AA"}:
                raise RuntimeError(f"A08 ACK codes: {statistics.multimode(codes)}")
            figures.a08_latencies = [lat for lats, _c, _s, _e in results for lat in lats]
            figures.a08_count = len(codes)
            start = min(s for _l, _c, s, _e in results)
            end = max(e for _l, _c, _s, e in results)
            figures.a08_rate = len(codes) / (end - start)
            stored = stored_accepted(runtime, f"{run_id}-U")
            if stored != len(codes):
                raise RuntimeError(f"{len(codes)} A08 acknowledged but {stored} stored")

        from hl7apy.parser import parse_message

        sample = dfts[-1]
        figures.hl7apy_parse = timed(lambda: parse_message(sample), hl7apy_repeats)
    return figures


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
    print(f"HL7 ingest benchmark — {machine()}; {load_average()} at start")
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
    print(f"  ({load_average()} at end; other engineers' tests share the 2 cores)")
    return results


if __name__ == "__main__":
    run()
