"""The "waiting for upstream" re-check loop (N§38): a stay whose discharge met a full upstream
outage is checked again as soon as upstream answers, so the billing desk learns it can settle.

One daemon thread per process, started and stopped with the runtime. It asks the waiting
list (:mod:`.discharge_waits`) to re-check the waiting stays at once when a clerk's read finds
upstream answering again after a failure (:meth:`wake`), and every ``every`` seconds
otherwise; the re-check stops at the first read that finds upstream still down, so an
outage costs one short call per round. The re-check writes only the waiting list, never a
settlement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("adapter")


class WaitingRecheck:
    def __init__(self, recheck: Callable[[], int], *, every: float = 15.0):
        self._recheck = recheck
        self._every = every
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="upstream-recheck", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Re-check now (upstream answered again), not at the next round."""
        self._woken.set()

    def stop(self) -> None:
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_once(self) -> int:
        try:
            ready = self._recheck()
        except Exception:  # the loop must survive a bad round (database down, …)
            log.exception("upstream_recheck_failed")
            return 0
        if ready:
            log.info("upstream_recheck_ready", extra={"stays": ready})
        return ready

    def _loop(self) -> None:
        while True:
            self._woken.wait(self._every)
            self._woken.clear()
            if self._stop.is_set():
                return
            self.run_once()
