"""Where the CPU went during a drain of the queue-drain benchmark (:mod:`benchmarks.queue_drain`):
this process, the simulator, PostgreSQL, and the machine as a whole (read from ``/proc``).
"""

from __future__ import annotations

import os
import time


def process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_PG_AUXILIARY = ("checkpointer", "walwriter", "background writer", "autovacuum", "wal writer")


def _postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database`` and of the server's own
    processes (WAL writer, checkpointer…), not of other databases' backends (other tests)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
            with open(f"/proc/{entry}/cmdline") as cmdline:
                title = cmdline.read()
            if f" {database} " in title or any(name in title for name in _PG_AUXILIARY):
                total += process_cpu(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class Meter:
    """CPU seconds of this process and of the simulator, and machine busy share, over a span.
    The simulator is named by its process id: only its CPU time is read here."""

    def __init__(self, simulator_pid: int, database: str) -> None:
        self.simulator_pid = simulator_pid
        self.database_name = database
        self.ours = time.process_time()
        self.theirs = process_cpu(simulator_pid)
        self.database = _postgres_cpu(database)
        self.busy, self.total = _machine_busy()

    def read(self) -> tuple[float, float, float, float]:
        """CPU seconds of (this process, the simulator, PostgreSQL), machine busy share."""
        busy, total = _machine_busy()
        return (
            time.process_time() - self.ours,
            process_cpu(self.simulator_pid) - self.theirs,
            _postgres_cpu(self.database_name) - self.database,
            (busy - self.busy) / max(total - self.total, 1.0),
        )
