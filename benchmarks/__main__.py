"""Run every benchmark in turn: `python -m benchmarks [name …]`.

`make bench` runs a workload sized for a few minutes on a 2-core machine;
`BENCH_FULL=1 make bench` runs the full workloads of docs/quality.md (the queue drain of
10,000 jobs at 20 ms upstream latency takes about a quarter of an hour; month-end seeds
50,000 settlements, short 10,000).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from adapter import logs
from benchmarks import (
    end_to_end,
    hl7_ingest,
    hl7_load,
    hl7_peers,
    month_end,
    queue_drain,
    queue_peers,
    settlement,
    stay_growth,
)

LOG = Path("test-artifacts/benchmarks.log")


def _log_warnings_to_a_file() -> None:
    """A run's warnings (an upstream call that failed under load, a skipped poll) go, with
    their time, level and fields, to ``LOG`` instead of breaking up the printed tables."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.unlink(missing_ok=True)
    logs.configure(level="WARNING", style="text", file=str(LOG), stream=io.StringIO())


def main(names: list[str]) -> None:
    full = os.environ.get("BENCH_FULL") == "1"
    _log_warnings_to_a_file()
    benchmarks = {
        "settlement": settlement.run,
        "hl7_ingest": hl7_ingest.run,
        "hl7_peers": (lambda: hl7_peers.run(messages=40)) if full else hl7_peers.run,
        "end_to_end": (lambda: end_to_end.run(200)) if full else (lambda: end_to_end.run(40)),
        "queue_drain": (
            (lambda: queue_drain.run(10_000, 20.0))
            if full
            else (lambda: queue_drain.run(2_000, 5.0))
        ),
        # The workload in both modes (3 runs of 50 × 200 lines, 5 stays of 10,000
        # lines settled): the growth only shows in a long stay.
        "stay_growth": stay_growth.run,
        "queue_peers": (
            (lambda: queue_peers.run(10_000, 5)) if full else (lambda: queue_peers.run(2_000, 3))
        ),
        "hl7_load": (
            hl7_load.run
            if full
            else (
                lambda: hl7_load.run(rounds=2, per_sender_8=100, per_sender_100=10, limit_seconds=3)
            )
        ),
        "month_end": (
            (lambda: month_end.run(50_000, 3)) if full else (lambda: month_end.run(10_000, 3))
        ),
    }
    for name in names or list(benchmarks):
        benchmarks[name]()
        print()
    warnings = LOG.read_text(encoding="utf-8").count("\n") if LOG.exists() else 0
    print(f"{warnings} warning lines logged during the run: {LOG}")


if __name__ == "__main__":
    main(sys.argv[1:])
