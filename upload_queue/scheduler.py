"""The runner: APScheduler (3.x ``BackgroundScheduler``) triggers draining and the watch.

APScheduler only says *when*; the ``upload_job`` table is what is durable (APScheduler's
own job store is the in-memory default and holds nothing worth keeping). On :meth:`start`:

1. the leases this instance's dead predecessors held are taken back (never those of another
   live process, even one configured with the same instance id:
   :mod:`upload_queue.identity`), together with any expired lease;
2. one drain job per worker runs every ``drain_every`` (never two runs of one worker at
   once; missed runs coalesce), delivering until nothing is due, with up to ``in_flight``
   deliveries going at once per worker;
3. the deadline watch runs every ``watch_every``, on one instance at a time (PostgreSQL
   advisory lock, see :mod:`upload_queue.locks`).

:meth:`wake` runs the drain jobs now — call it after committing an enqueue so a job on an
idle, healthy system reaches upstream at once instead of at the next tick. A worker that is
draining just looks again before it stops (:meth:`Worker.wake`); only an idle one is
started through APScheduler. (The one gap left: a wake in the microseconds between a
drain's return and APScheduler noting it finished is skipped by APScheduler, and that job
waits for the next tick, ``drain_every`` at most.) A database error
in a run is logged (``drain_failed`` / ``deadline_watch_failed``) and the next tick retries.
A drain that failed may leave jobs leased to its worker (e.g. a full disk refused the write
of an outcome): before that worker drains again, the runner returns its leases to the queue,
so those jobs go out as soon as the database takes writes again instead of when the leases
expire (``lease_seconds``). Upstream sees the same idempotency key if one was delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from upload_queue.deadlines import DeadlineReport
from upload_queue.worker import Worker

log = logging.getLogger("upload_queue")


class RunnableQueue(Protocol):
    """What the runner needs of :class:`~upload_queue.facade.UploadQueue` (which builds it
    through :meth:`~upload_queue.facade.UploadQueue.runner`): named here, so the runner does
    not import the facade that imports it."""

    def worker(self, index: int = 0, *, batch: int = 1, in_flight: int = 1) -> Worker: ...

    def recover(self, owners: Iterable[str] = ()) -> list[int]: ...

    def watch_deadlines(self) -> DeadlineReport | None: ...


class QueueRunner:
    def __init__(
        self,
        queue: RunnableQueue,
        *,
        workers: int = 1,
        in_flight: int = 1,
        drain_every: timedelta = timedelta(seconds=1),
        watch_every: timedelta = timedelta(seconds=30),
    ) -> None:
        if workers < 1:
            raise ValueError("the runner needs at least one worker")
        self.queue = queue
        self.workers: list[Worker] = [
            queue.worker(index, in_flight=in_flight) for index in range(workers)
        ]
        self.drain_every = drain_every
        self.watch_every = watch_every
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._interrupted: set[str] = set()  # workers whose last drain failed holding leases

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        self.queue.recover(owners=[worker.worker_id for worker in self.workers])
        now = datetime.now(UTC)
        for worker in self.workers:
            self.scheduler.add_job(
                self._drain,
                "interval",
                args=[worker],
                seconds=self.drain_every.total_seconds(),
                id=self._drain_id(worker),
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )
        self.scheduler.add_job(
            self._watch,
            "interval",
            seconds=self.watch_every.total_seconds(),
            id="upload_queue.deadline_watch",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )
        self.scheduler.start()

    def wake(self) -> None:
        """Deliver what was just committed: a draining worker looks again, an idle one runs now."""
        if not self.running:
            return
        now = datetime.now(UTC)
        for worker in self.workers:
            if not worker.wake():
                self.scheduler.modify_job(self._drain_id(worker), next_run_time=now)

    def shutdown(self, wait: bool = True) -> None:
        for worker in self.workers:
            worker.stop()
        if self.running:
            self.scheduler.shutdown(wait=wait)

    @staticmethod
    def _drain_id(worker: Worker) -> str:
        return f"upload_queue.drain.{worker.worker_id}"

    def _drain(self, worker: Worker) -> None:
        try:
            if worker.worker_id in self._interrupted:
                # Safe: this worker's drain runs once at a time (max_instances=1) and the
                # failed one finished its deliveries, so no lease of this worker is in use.
                self.queue.recover(owners=[worker.worker_id])
                self._interrupted.discard(worker.worker_id)
            worker.drain()
        except SQLAlchemyError as exc:
            self._interrupted.add(worker.worker_id)
            log.error(
                "drain_failed worker=%s error=%s",
                worker.worker_id,
                exc,
                extra={"event": "drain_failed", "worker": worker.worker_id},
            )

    def _watch(self) -> None:
        try:
            self.queue.watch_deadlines()
        except SQLAlchemyError as exc:
            log.error(
                "deadline_watch_failed error=%s", exc, extra={"event": "deadline_watch_failed"}
            )
