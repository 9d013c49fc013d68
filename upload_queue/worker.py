"""The worker: lease a job, hand it to its kind's handler, record the outcome.

One :class:`Worker` delivers one job at a time; run several (threads, processes, instances)
for more throughput — leases keep them apart. An outcome is recorded only while the worker
still holds the job's lease; if the lease expired meanwhile (the job may already be with
another worker), the attempt is kept in the history as ``lease_lost`` and the job is left to
its new holder. Upstream sees the idempotency key, so the rare double delivery is harmless.

Outcomes: success → ``delivered``; transient failure → ``pending`` again at the time the
retry policy gives, or ``dead`` when it gives up; permanent failure → ``dead`` at once,
with upstream's message as ``last_error``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, select, update

from upload_queue.clock import Clock, utcnow
from upload_queue.handlers import Handlers
from upload_queue.jobs import Delivery
from upload_queue.leasing import begin_write, lease
from upload_queue.metrics import QueueMetrics, metrics_for
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import upload_attempt, upload_job

log = logging.getLogger("upload_queue")

Result = Literal["delivered", "transient", "permanent"]


def default_worker_id(index: int = 0) -> str:
    """``host:pid:index`` — stable for one process, distinct across instances."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


@dataclass(frozen=True)
class Outcome:
    job_id: int
    result: Result
    status: str
    error: str | None = None


class Worker:
    def __init__(
        self,
        engine: Engine,
        handlers: Handlers,
        *,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        policy: RetryPolicy | None = None,
        lease_for: timedelta = timedelta(minutes=2),
        batch: int = 1,
        metrics: QueueMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.handlers = handlers
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.lease_for = lease_for
        self.batch = batch
        self.metrics = metrics or metrics_for()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Make :meth:`drain` return after the job in hand, now and from then on."""
        self._stop.set()

    def run_once(self) -> list[Outcome]:
        """Lease up to ``batch`` due jobs and deliver them; ``[]`` when none is due."""
        deliveries = lease(
            self.engine,
            self.worker_id,
            self.clock(),
            lease_for=self.lease_for,
            limit=self.batch,
            kinds=self.handlers.kinds(),
            policy=self.policy,
            metrics=self.metrics,
        )
        return [self.deliver(delivery) for delivery in deliveries]

    def drain(self, max_jobs: int | None = None) -> int:
        """Deliver due jobs until none is due, ``max_jobs`` are done or :meth:`stop`; count them."""
        done = 0
        while not self._stop.is_set() and (max_jobs is None or done < max_jobs):
            outcomes = self.run_once()
            if not outcomes:
                break
            done += len(outcomes)
        return done

    def deliver(self, delivery: Delivery) -> Outcome:
        """Call the handler for one leased job and record what happened."""
        registration = self.handlers.get(delivery.kind)
        started = self.clock()
        began = time.perf_counter()
        result: Result
        error: str | None
        try:
            registration.handler(delivery)
        except Exception as exc:
            result, error = registration.classify_error(exc)
        else:
            result, error = "delivered", None
        duration = time.perf_counter() - began
        return self._record(delivery, result, error, started, duration)

    def _record(
        self,
        delivery: Delivery,
        result: Result,
        error: str | None,
        started: datetime,
        duration: float,
    ) -> Outcome:
        finished = self.clock()
        kind = delivery.kind
        with begin_write(self.engine) as connection, connection.begin():
            row = (
                connection.execute(select(upload_job).where(upload_job.c.id == delivery.job_id))
                .mappings()
                .one()
            )
            values: dict[str, Any] = {
                "leased_by": None,
                "lease_token": None,
                "leased_at": None,
                "lease_expires_at": None,
            }
            if result == "delivered":
                values.update(status="delivered", delivered_at=finished, last_error=None)
            else:
                verdict = self.policy.next_attempt(
                    row["attempts"], result, finished, row["round_started_at"]
                )
                values.update(last_error=error)
                if verdict is DEAD:
                    values.update(status="dead", dead_at=finished)
                else:
                    values.update(status="pending", available_at=verdict)
            changed = connection.execute(
                update(upload_job)
                .where(
                    upload_job.c.id == delivery.job_id,
                    upload_job.c.status == "in_flight",
                    upload_job.c.lease_token == delivery.lease_token,
                )
                .values(**values)
            ).rowcount
            outcome: str = result if changed == 1 else "lease_lost"
            if changed != 1:
                error = f"{result} result discarded: the lease had expired" + (
                    f" ({error})" if error else ""
                )
            connection.execute(
                upload_attempt.insert().values(
                    job_id=delivery.job_id,
                    number=delivery.attempt,
                    worker=self.worker_id,
                    started_at=started,
                    finished_at=finished,
                    duration_s=duration,
                    outcome=outcome,
                    error=error,
                )
            )
        if changed != 1:
            log.warning(
                "lease_lost job_id=%s kind=%s worker=%s",
                delivery.job_id,
                kind,
                self.worker_id,
                extra={"event": "lease_lost", "job_id": delivery.job_id, "kind": kind},
            )
            return Outcome(delivery.job_id, result, row["status"], error)
        self._observe(kind, result, values["status"], row["created_at"], delivery, finished)
        if values["status"] == "dead":
            log.error(
                "job_dead job_id=%s kind=%s error=%s",
                delivery.job_id,
                kind,
                error,
                extra={
                    "event": "job_dead",
                    "job_id": delivery.job_id,
                    "kind": kind,
                    "error": error,
                },
            )
        return Outcome(delivery.job_id, result, values["status"], error)

    def _observe(
        self,
        kind: str,
        result: Result,
        status: str,
        created_at: datetime,
        delivery: Delivery,
        finished: datetime,
    ) -> None:
        m = self.metrics
        if result == "delivered":
            m.delivered.labels(kind=kind).inc()
            m.delivery_latency.labels(kind=kind).observe(
                max((finished - created_at).total_seconds(), 0.0)
            )
            left = (delivery.deadline - finished).total_seconds()
            m.time_to_deadline.labels(kind=kind).observe(max(left, 0.0))
            if left < 0:
                m.deadline_missed.labels(kind=kind).inc()
            return
        m.failed.labels(kind=kind, error_kind=result).inc()
        if status == "dead":
            m.dead.labels(kind=kind).inc()
