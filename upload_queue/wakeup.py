"""Recovery speed: when the far side answers again, jobs waiting out a back-off go at once.

After an outage each job sits until its own next back-off slot (up to ``RetryPolicy.cap``,
10 minutes by default), although upstream may have been back for minutes. Any successful
exchange with upstream — a clerk's read, another job's delivery — is proof it is back:

* :func:`wake_backed_off` makes due every pending job that failed before and is waiting
  for a later slot (``attempts > 0``, ``available_at`` in the future). Its back-off count is
  kept, so if upstream fails again the job backs off further, as before. Order is unchanged:
  leasing still takes them earliest deadline first, one ordering key at a time.
* :class:`RecoveryWake` decides when: told of each exchange's outcome (``failed()`` /
  ``succeeded()``), it runs :func:`wake_backed_off` in a background thread on the first
  success after a failure (and after start-up, for jobs a previous run left backed off), at
  most once per ``min_interval_s``, and at least every ``every_s`` while successes come (a
  failure seen only by another instance), then calls ``wake`` so the workers drain now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError

from upload_queue.clock import Clock, utcnow
from upload_queue.tables import upload_job
from upload_queue.transactions import begin_write, write_transaction

log = logging.getLogger("upload_queue")


def wake_backed_off(engine: Engine, now: datetime) -> int:
    """Make due, at ``now``, the pending jobs waiting out a back-off; how many there were."""
    statement = (
        update(upload_job)
        .where(
            upload_job.c.status == "pending",
            upload_job.c.attempts > 0,
            upload_job.c.available_at > now,
        )
        .values(available_at=now)
    )
    with begin_write(engine) as connection, write_transaction(connection):
        woken = connection.execute(statement).rowcount
    return int(woken or 0)


class RecoveryWake:
    """Wakes backed-off jobs when upstream answers again (thread-safe)."""

    def __init__(
        self,
        engine: Engine,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
        min_interval_s: float = 1.0,
        every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.wake = wake
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.every_s = every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failed = True  # a previous run may have left jobs backed off
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._last: float | None = None
        self.woken = 0  # jobs made due so far (for tests and logs)

    def failed(self) -> None:
        """An exchange failed in transport (time-out, refused connection, 5xx)."""
        with self._lock:
            self._failed = True

    def succeeded(self) -> None:
        """An exchange got upstream's answer; wake the backed-off jobs if it is time."""
        now = self._monotonic()
        with self._lock:
            if self._running or self._closed:
                return
            since = None if self._last is None else now - self._last
            if since is not None and since < self.min_interval_s:
                return
            if not self._failed and since is not None and since < self.every_s:
                return
            self._failed = False
            self._running = True
            self._last = now
            self._thread = threading.Thread(
                target=self._run, name="upload-queue-recovery", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Wake nothing more; wait for a wake-up under way (before the engine is disposed)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        try:
            woken = wake_backed_off(self.engine, self.clock())
        except SQLAlchemyError as exc:
            log.warning("recovery_wake_failed", extra={"error": type(exc).__name__})
            with self._lock:
                self._failed = True
            return
        finally:
            with self._lock:
                self._running = False
        if woken:
            with self._lock:
                self.woken += woken
            log.info("recovery_woke_jobs", extra={"jobs": woken})
            self.wake()
