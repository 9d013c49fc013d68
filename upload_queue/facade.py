"""``UploadQueue``: the queue wired once, for the composition root.

::

    queue = UploadQueue(engine, registry=prometheus_client.REGISTRY)
    queue.register("discharge_record", upload_discharge, classify=upstream_error_kind)
    runner = queue.runner(workers=2, in_flight=4)  # APScheduler: drain + deadline watch
    runner.start()
    app = create_app(..., health_probes={"upload_queue": queue.health})
    ...
    queue.enqueue(session, JobSpec(...))      # inside a use case's transaction
    runner.wake()                              # after the commit: deliver at once

The facade only holds the shared settings (engine, clock, retry policy, lease length, call
timeout, alert margin, metrics) and forwards to the modules that do the work; the functions
remain usable on their own.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from upload_queue import admin, recovery, reporting
from upload_queue.clock import Clock, utcnow
from upload_queue.deadlines import DEFAULT_MARGIN, DeadlineReport
from upload_queue.enqueue import enqueue, enqueue_many
from upload_queue.enqueue_now import enqueue_now
from upload_queue.handlers import Classifier, Handler, Handlers, OutcomeHook
from upload_queue.identity import ProcessIdentity, dead_predecessors, shared_instance_holders
from upload_queue.jobs import Job, JobSpec, Status
from upload_queue.metrics import metrics_for
from upload_queue.retry import RetryPolicy
from upload_queue.scheduler import QueueRunner
from upload_queue.worker import Worker

log = logging.getLogger("upload_queue")


class UploadQueue:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        policy: RetryPolicy | None = None,
        lease_for: timedelta = timedelta(minutes=2),
        call_timeout: timedelta = timedelta(seconds=30),
        at_risk_margin: timedelta = DEFAULT_MARGIN,
        registry: CollectorRegistry | None = None,
        instance_id: str | None = None,
    ) -> None:
        """``instance_id`` names this instance (default: the host name). Its workers hold
        leases under a process identity built on it (:mod:`upload_queue.identity`): unique
        even when two instances are configured with one instance id; start-up takes back
        the leases of this instance's dead predecessors on this host at once.
        ``call_timeout``: the longest a handler's call to upstream takes (its timeout); a
        worker starts a job only with that, and a margin, left on its lease."""
        self.engine = engine
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.lease_for = lease_for
        self.call_timeout = call_timeout
        self.at_risk_margin = at_risk_margin
        self.metrics = metrics_for(registry)
        self.instance_id = instance_id or socket.gethostname()
        self.identity = ProcessIdentity.current(self.instance_id)
        self.handlers = Handlers()

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        classify: Classifier | None = None,
        on_refused: OutcomeHook | None = None,
        on_delivered: OutcomeHook | None = None,
    ) -> None:
        self.handlers.register(
            kind, handler, classify=classify, on_refused=on_refused, on_delivered=on_delivered
        )

    def enqueue(self, target: Connection | Session | None, spec: JobSpec) -> Job:
        """Add a job in the caller's transaction (see :func:`upload_queue.enqueue.enqueue`);
        with ``target`` ``None``, on its own, committed on return (one autocommit statement
        on PostgreSQL: see :func:`upload_queue.enqueue_now.enqueue_now`)."""
        if target is None:
            return enqueue_now(self.engine, spec, now=self.clock(), metrics=self.metrics)
        return enqueue(target, spec, now=self.clock(), metrics=self.metrics)

    def enqueue_many(self, target: Connection | Session, specs: Iterable[JobSpec]) -> list[Job]:
        """Add several jobs in the caller's transaction with one statement
        (see :func:`upload_queue.enqueue.enqueue_many`)."""
        return enqueue_many(target, specs, now=self.clock(), metrics=self.metrics)

    def worker_id(self, index: int) -> str:
        if self.identity.instance_id != self.instance_id:  # renamed after construction
            self.identity = ProcessIdentity.current(self.instance_id)
        return self.identity.worker_id(index)

    def worker(self, index: int = 0, *, batch: int = 1, in_flight: int = 1) -> Worker:
        """Worker number ``index`` of this instance, with ``in_flight`` deliveries at once."""
        return Worker(
            self.engine,
            self.handlers,
            worker_id=self.worker_id(index),
            clock=self.clock,
            policy=self.policy,
            lease_for=self.lease_for,
            call_timeout=self.call_timeout,
            batch=batch,
            in_flight=in_flight,
            metrics=self.metrics,
        )

    def recover(self, owners: Iterable[str] = ()) -> list[int]:
        """Return expired leases, those held by ``owners`` and those of this instance's dead
        predecessors to the queue; warn when another live process holds leases under this
        instance id (two instances configured alike)."""
        self.worker_id(0)  # refresh the identity if instance_id was changed
        others = shared_instance_holders(self.engine, self.identity, self.clock())
        if others:
            log.warning(
                "instance_id_shared",
                extra={
                    "event": "instance_id_shared",
                    "instance_id": self.instance_id,
                    "others": others,
                    "hint": "give each instance its own [queue] instance_id",
                },
            )
        adopted = [*owners, *dead_predecessors(self.engine, self.identity)]
        return recovery.recover(
            self.engine, self.clock(), policy=self.policy, metrics=self.metrics, owners=adopted
        )

    def watch_deadlines(self) -> DeadlineReport | None:
        return reporting.watch_deadlines(
            self.engine, self.clock(), margin=self.at_risk_margin, metrics=self.metrics
        )

    def health(self) -> dict[str, Any]:
        return reporting.health(
            self.engine, self.clock(), metrics=self.metrics, margin=self.at_risk_margin
        )

    def summary(self, *, since: datetime | None = None) -> reporting.Summary:
        """The summary; with ``since`` (the operator's day began), also the deadlines since
        then that were missed, late deliveries included."""
        return reporting.summary(self.engine, self.clock(), margin=self.at_risk_margin, since=since)

    def hourly(self, now: datetime, hours: int = 24) -> list[reporting.HourPoint]:
        """Backlog and delivery latency per hour for the ``hours`` up to ``now`` (the
        monitor's chart)."""
        return reporting.hourly(self.engine, now, hours)

    def job_status(self, job_id: int) -> str | None:
        return reporting.job_status(self.engine, job_id)

    def list_jobs(
        self,
        *,
        status: Status | None = None,
        kind: str | None = None,
        ordering_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Job]:
        return admin.list_jobs(
            self.engine,
            status=status,
            kind=kind,
            ordering_key=ordering_key,
            limit=limit,
            offset=offset,
        )

    def held_back_by(self, job_ids: Iterable[int]) -> dict[int, int]:
        """Of ``job_ids``, those waiting for an earlier job of their stay: that job's id."""
        return admin.held_back_by(self.engine, job_ids)

    def retry(
        self,
        job_id: int,
        *,
        payload: Mapping[str, Any] | None = None,
        note: str | None = None,
        seen_attempts: int | None = None,
    ) -> Job:
        return admin.retry(
            self.engine,
            job_id,
            self.clock(),
            payload=payload,
            note=note,
            seen_attempts=seen_attempts,
        )

    def purge(self, retention: timedelta) -> int:
        return admin.purge(self.engine, retention, self.clock())

    def runner(
        self,
        *,
        workers: int = 1,
        in_flight: int = 1,
        drain_every: timedelta = timedelta(seconds=1),
        watch_every: timedelta = timedelta(seconds=30),
    ) -> QueueRunner:
        """``workers`` drain loops, each keeping up to ``in_flight`` deliveries going at once:
        at most ``workers * in_flight`` upstream calls in flight from this instance."""
        return QueueRunner(
            self,
            workers=workers,
            in_flight=in_flight,
            drain_every=drain_every,
            watch_every=watch_every,
        )
