"""The audit chain's head, anchored outside the database every ``[audit] anchor_minutes``.

A daemon thread started and stopped with the runtime; each tick appends one line to the
anchor file and logs it (:func:`adapter.store.audit_anchor.write_anchor`). A failed tick is
logged (``audit_anchor_failed``) and the next one tries again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapter.store.audit import installed_keyring
from adapter.store.audit_anchor import write_anchor

log = logging.getLogger("adapter.audit")


class AuditAnchorer:
    def __init__(self, engine: Engine, path: Path, every_s: float) -> None:
        self.engine = engine
        self.path = path
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def anchor_now(self) -> None:
        try:
            write_anchor(self.engine, installed_keyring(self.engine), self.path)
        except (OSError, SQLAlchemyError) as exc:
            log.error(
                "audit_anchor_failed", extra={"error": str(exc), "anchor_file": str(self.path)}
            )

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.anchor_now()
