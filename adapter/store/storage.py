"""Free space where the SQLite database lives: in ``/healthz`` and as a Prometheus gauge.

A full disk refuses every write (clerks get 503 DATABASE_FULL, HL7 senders AE); IT should hear
of it before that. With SQLite the file is on this machine, so its filesystem's free space is
measured here; with PostgreSQL the disk is the database server's, watched where it runs, so
there is no probe.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

log = logging.getLogger("adapter")


class StorageProbe(Collector):
    def __init__(self, folder: Path, min_free_bytes: int) -> None:
        self.folder = folder
        self.min_free_bytes = min_free_bytes
        self._warned = False

    @classmethod
    def for_engine(cls, engine: Engine, min_free_mb: int) -> StorageProbe | None:
        """The probe for a file-backed SQLite engine, else None."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        path = Path(database.removeprefix("file:").split("?", 1)[0])
        return cls(path.resolve().parent, min_free_mb * 1024 * 1024)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.folder).free

    def health(self) -> dict[str, Any]:
        """Not ok below the minimum: writes are about to fail, so the instance is not ready."""
        try:
            free = self.free_bytes()
        except OSError as exc:
            return {"ok": False, "folder": str(self.folder), "error": type(exc).__name__}
        low = free < self.min_free_bytes
        if low and not self._warned:
            log.error(
                "database_disk_low folder=%s free_mb=%d min_free_mb=%d",
                self.folder,
                free // 2**20,
                self.min_free_bytes // 2**20,
            )
        self._warned = low
        return {
            "ok": not low,
            "folder": str(self.folder),
            "free_mb": free // 2**20,
            "min_free_mb": self.min_free_bytes // 2**20,
        }

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            free = self.free_bytes()
        except OSError:
            return
        yield GaugeMetricFamily(
            "adapter_database_disk_free_bytes",
            "Free bytes on the filesystem holding the SQLite database",
            value=free,
        )

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self)
