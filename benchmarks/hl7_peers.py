"""Our whole HL7 ingest against peers' bare parse, timed fairly (issue 17).

Each peer (hl7apy's ``parse_message``, python-hl7's ``parse``) runs in its own fresh process
(:mod:`benchmarks.peer_parse`) that imports nothing of the adapter, so no peer pays for the
adapter's heap in its garbage collector. Messages alternate: our ingest of message *i*
(receive over MLLP, store, price, store the ACK, send it; the real runtime on SQLite, as
``wi-adapter serve`` wires it), then each peer's parse of the same text, then message *i+1*.
DFT^P03 with 50, 200 and 1,000 FT1; each message a new day's batch into one of a few stays
(four batches a stay), so no stay grows long here (stay growth is its own benchmark).

Targets at 200 FT1: our whole ingest ≥ 15× faster than hl7apy's parse alone, and ≤ 2× python-
hl7's bare parse. Run: ``python -m benchmarks hl7_peers``; python-hl7 comes with the project's
``bench`` extra (``make bench`` installs it).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.common import load_average, machine, percentile
from benchmarks.hl7_runtime import adapter_runtime, bench_database
from benchmarks.hl7_traffic import SHANGHAI, Client, ack_code, admit_message, dft_message
from tests.support.workers import seeded_worker

PEERS = ("hl7apy", "python-hl7")
ROOT = Path(__file__).resolve().parents[1]


class Peer:
    """One peer library in its own process."""

    def __init__(self, library: str) -> None:
        self.library = library
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.peer_parse", library],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().decode().strip()
        self.error = "" if first == "ready" else self._stderr() or "did not start"

    def _stderr(self) -> str:
        assert self.process.stderr is not None
        self.process.wait(timeout=30)
        lines = self.process.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def parse(self, text: str) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        data = text.encode("utf-8")
        self.process.stdin.write(f"{len(data)}\n".encode() + data)
        self.process.stdin.flush()
        answer = self.process.stdout.readline().decode().strip()
        if not answer or answer.startswith("error"):
            raise RuntimeError(f"{self.library}: {answer or 'no answer'}")
        return float(answer)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Row:
    fee_lines: int
    ours: list[float] = field(default_factory=list)
    peers: dict[str, list[float]] = field(default_factory=dict)


def measure(sizes: tuple[int, ...], messages: int, catalogue_items: int) -> list[Row]:
    peers = [Peer(library) for library in PEERS]
    for peer in peers:
        if peer.error:
            print(f"  {peer.library} not measured: {peer.error}")
    live = [peer for peer in peers if not peer.error]
    rows: list[Row] = []
    try:
        with bench_database("sqlite") as url, adapter_runtime(url, catalogue_items) as runtime:
            client = Client(runtime.hl7.port)  # type: ignore[attr-defined]
            run_id = uuid.uuid4().hex[:8]
            admitted = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=20)
            per_stay = 4
            for size in sizes:
                row = Row(size, peers={peer.library: [] for peer in live})
                stays = [f"PV{run_id}{size}{n:02d}" for n in range(messages // per_stay + 1)]
                sim_url = runtime.settings.upstream.base_url  # type: ignore[attr-defined]
                for n, visit in enumerate(stays):
                    worker = seeded_worker(sim_url, visit)  # one open stay per worker (B§28)
                    ack = client.send(
                        admit_message(visit, admitted, f"{run_id}-{size}-A{n}", worker)
                    )
                    if ack_code(ack) != "AA":
                        raise RuntimeError(f"admission refused: {ack}")
                for n in range(messages + 1):  # message 0 warms both sides up
                    text = dft_message(
                        stays[n // per_stay],
                        admitted,
                        n % per_stay,
                        size,
                        f"{run_id}-{size}-D{n}",
                        f"{run_id}S{size}D{n}",
                        catalogue_items,
                    )
                    began = time.perf_counter()
                    ack = client.send(text)
                    took = time.perf_counter() - began
                    if ack_code(ack) != "AA":
                        raise RuntimeError(f"DFT refused: {ack[:400]}")
                    timings = {peer.library: peer.parse(text) for peer in live}
                    if n == 0:
                        continue
                    row.ours.append(took)
                    for library, seconds in timings.items():
                        row.peers[library].append(seconds)
                rows.append(row)
            client.close()
    finally:
        for peer in peers:
            peer.close()
    return rows


def report(rows: list[Row]) -> None:
    print(
        f"  {'FT1':>5}  {'ours p50':>10}  {'hl7apy p50':>11}  {'python-hl7 p50':>15}  "
        f"{'hl7apy/ours':>12}  {'ours/python-hl7':>16}"
    )
    for row in rows:
        ours = percentile(row.ours, 0.5)
        hl7apy = row.peers.get("hl7apy")
        python_hl7 = row.peers.get("python-hl7")
        apy = percentile(hl7apy, 0.5) if hl7apy else None
        phl7 = percentile(python_hl7, 0.5) if python_hl7 else None
        print(
            f"  {row.fee_lines:>5}  {ours * 1000:>8.2f}ms  "
            + (f"{apy * 1000:>9.2f}ms  " if apy else f"{'—':>11}  ")
            + (f"{phl7 * 1000:>13.2f}ms  " if phl7 else f"{'—':>15}  ")
            + (f"{apy / ours:>11.1f}x  " if apy else f"{'—':>12}  ")
            + (f"{ours / phl7:>15.1f}x" if phl7 else f"{'—':>16}")
        )
        if row.fee_lines == 200:
            if apy:
                met = "met" if apy / ours >= 15 else "NOT met"
                print(f"         target ≥ 15× faster than hl7apy's parse: {met}")
            if phl7:
                met = "met" if ours / phl7 <= 2 else "NOT met"
                print(f"         target ≤ 2× python-hl7's bare parse:     {met}")


def run(
    sizes: tuple[int, ...] = (50, 200, 1000),
    messages: int = 20,
    catalogue_items: int = 50_000,
) -> list[Row]:
    import logging

    logging.getLogger("connectors.hl7").setLevel(logging.ERROR)
    print(f"HL7 ingest vs peers — {machine()}; {load_average()} at start")
    print(
        f"workload: SQLite, real runtime, MLLP on loopback; catalogue: demo + {catalogue_items} "
        f"items; {messages} DFT^P03 per size, alternating message by message with each peer "
        f"parsing the same text in its own fresh process"
    )
    rows = measure(sizes, messages, catalogue_items)
    report(rows)
    print(f"  ({load_average()} at end)")
    return rows


if __name__ == "__main__":
    run()
