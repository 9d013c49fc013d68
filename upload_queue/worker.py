"""The worker: lease jobs, hand each to its kind's handler, record the outcomes.

A :class:`Worker` keeps up to ``in_flight`` deliveries going at once (default 1): its
:meth:`~Worker.drain` loop runs the handlers on a pool of ``in_flight`` threads (inline when
``in_flight`` is 1) and keeps more jobs leased and ready behind them, so a slot that frees
up starts the next job without waiting on the database; as deliveries finish it records
their outcomes and leases replacements **in one transaction**, a batch of at least
:data:`BATCH_FLOOR` jobs at a time, so a job costs a fraction of a commit. The connection is
taken from the pool for that transaction only and never held while a handler waits on
upstream: the handler needs one of its own (a settlement's fee details, the call log), and a
worker's idle connection would count against the pool the clerks' requests share. The
bound on throughput is upstream's: ``in_flight / latency`` per worker. Run several workers
(threads, processes, instances) on top; leases keep them apart.

Guarantees do not depend on ``in_flight``: jobs are leased earliest deadline first; two jobs
of one ordering key are never in flight together (a later one stays blocked until the earlier
one's outcome is committed), so within a key deliveries happen strictly one after another in
enqueue order; a job is held by one lease at a time.

Outcomes are recorded by :mod:`upload_queue.outcomes`, only while the worker still holds
the job's lease; a job whose lease expired meanwhile is left to its new holder. Upstream sees
the idempotency key, so the rare double delivery is harmless.

A job starts only with :attr:`Worker.need` (the handler's ``call_timeout`` and a
:data:`MARGIN`) left on its lease, so its lease outlasts its delivery and the recording of
its outcome. Held jobs can wait long: with the shipped settings (4 in flight, a batch of 8,
so up to 16 held; upstream's write timeout 30 s, leases of 120 s) a hanging upstream starts
the last of them some 90 s after its lease. So before it starts jobs, a worker checks the
leases of those it is about to start and of the outcomes it has not recorded yet; when one
is short, it records the finished ones and renews the leases of all its ready jobs in one
transaction (one ``UPDATE`` naming each job with its lease token, only where the lease has
not run out), and drops the ready jobs whose lease was lost: another worker may hold them.
Capping what a worker holds so that every held job starts in time (``in_flight × ⌊lease ÷
call_timeout⌋``) was the other way; it was not taken. With the shipped settings the cap is
16 only without any margin (4 × ⌊120 ÷ 30⌋: the last job then ends just as its lease does);
with the margin (a 33 s call, connecting included, × 1.25) it is 4 × ⌊120 ÷ 41.25⌋ = 8, half
the 16 that batches of 8 hold, so it costs batching when upstream is fast. And a place in the
queue does not bound a job's start: jobs leased later with earlier deadlines go first (EDF),
and a stalled worker thread or database counts too. Renewal looks at the real time left
instead, and costs nothing while upstream answers in time (no lease gets short: a job waits
seconds, not minutes).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy import Engine

from upload_queue.clock import Clock, utcnow
from upload_queue.handlers import Handlers
from upload_queue.jobs import Delivery
from upload_queue.leasing import Leased, lease_on, renew_on
from upload_queue.ledger import Receipt
from upload_queue.metrics import QueueMetrics, metrics_for
from upload_queue.outcomes import (
    Finished,
    Outcome,
    Result,
    after_commit,
    record_outcomes,
    tell_hooks,
)
from upload_queue.recovery import release_expired
from upload_queue.retry import RetryPolicy
from upload_queue.transactions import begin_write, write_transaction

__all__ = ["BATCH_FLOOR", "MARGIN", "RELEASE_EVERY", "Worker", "default_worker_id"]

log = logging.getLogger("upload_queue")

BATCH_FLOOR = 8
"""Jobs a pooled :meth:`Worker.drain` records and leases per transaction at least, whatever
its ``in_flight``: a transaction (and its synced commit) costs about the same for 2 jobs as
for 8, so four workers with 2 in flight each would otherwise pay four times what one worker
with 8 in flight pays per job."""

MARGIN = 0.25
"""A job starts only with ``call_timeout × (1 + MARGIN)`` left on its lease, and an outcome is
recorded before its lease is down to that: the margin covers what a handler does besides the
call its ``call_timeout`` times (a sign-in before a write, connecting), the moment between
the look and the start, and the transaction that records the outcome."""

RELEASE_EVERY = timedelta(seconds=1)
"""How often a draining worker also returns expired leases (and at the start of each drain)."""


def _edf(item: Leased) -> tuple[datetime, int]:
    return item.delivery.deadline, item.delivery.job_id


def default_worker_id(index: int = 0) -> str:
    """``host:pid:index`` — stable for one process, distinct across instances."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


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
        in_flight: int = 1,
        call_timeout: timedelta = timedelta(seconds=30),
        metrics: QueueMetrics | None = None,
    ) -> None:
        """``in_flight``: deliveries this worker keeps going at once (handler threads).
        ``batch``: jobs :meth:`run_once` leases per call, and, with ``in_flight`` 1, jobs
        :meth:`drain` leases per transaction (delivered one after another).
        ``call_timeout``: the longest a handler's call to upstream may take (its timeout);
        ``lease_for`` must exceed it and its :data:`MARGIN`."""
        if in_flight < 1 or batch < 1:
            raise ValueError("a worker needs batch >= 1 and in_flight >= 1")
        need = call_timeout * (1 + MARGIN)
        if call_timeout <= timedelta(0) or lease_for <= need:
            raise ValueError(
                f"a lease of {lease_for} cannot outlast a call of {call_timeout} and its margin"
            )
        self.engine = engine
        self.handlers = handlers
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.lease_for = lease_for
        self.batch = batch
        self.in_flight = in_flight
        self.call_timeout = call_timeout
        self.need = need  # what a job's lease must have left when it starts
        self.metrics = metrics or metrics_for()
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._draining = False
        self._last_release: datetime | None = None

    def stop(self) -> None:
        """Make :meth:`drain` lease nothing more and return once the jobs it holds (in flight
        or leased and ready) are delivered and recorded, now and from then on."""
        self._stop.set()

    def wake(self) -> bool:
        """Say a job was just committed. A running :meth:`drain` looks for due jobs again
        before it returns; ``False`` means none is running (the caller should start one).

        :meth:`drain` clears its "running" flag *before* its last look, so a wake is never
        lost between the two: either that look sees it, or this returns ``False``.
        """
        self._woken.set()
        return self._draining

    # --- one step at a time (tests, tools) -----------------------------------------------

    def run_once(self) -> list[Outcome]:
        """Lease up to ``batch`` due jobs and deliver them one by one; ``[]`` when none is due."""
        _, leased, _ = self._record([], room=self.batch, release=True)
        outcomes, finished = self._one_by_one(leased)
        return outcomes + self._record(finished)[0]

    def deliver(self, delivery: Delivery) -> Outcome:
        """Call the handler for one leased job and record what happened."""
        finished = self._call(delivery, None)
        [outcome] = self._record([finished])[0]
        return outcome

    # --- the loop -----------------------------------------------------------------------

    def drain(self, max_jobs: int | None = None) -> int:
        """Deliver due jobs until none is due, ``max_jobs`` were leased or :meth:`stop`;
        return how many attempts were recorded.

        A :meth:`wake` that arrives before it returns makes it look for due jobs once more.
        """
        counts = [0, 0]  # attempts recorded, jobs leased
        self._draining = True
        try:
            pool = (
                ThreadPoolExecutor(self.in_flight, thread_name_prefix=self.worker_id)
                if self.in_flight > 1
                else None
            )
            try:
                while True:
                    if pool is None:
                        self._drain_inline(max_jobs, counts)
                    else:
                        self._drain_pooled(pool, max_jobs, counts)
                    self._draining = False  # before the look: see wake()
                    if not self._woken.is_set() or self._stop.is_set():
                        return counts[0]
                    self._draining = True
            finally:
                if pool is not None:
                    pool.shutdown(wait=True)
        finally:
            self._draining = False

    def _room(self, counts: list[int], busy: int, max_jobs: int | None, slots: int) -> int:
        if self._stop.is_set():
            return 0
        room = slots - busy
        return room if max_jobs is None else min(room, max_jobs - counts[1])

    def _drain_inline(self, max_jobs: int | None, counts: list[int]) -> None:
        """Lease ``batch`` jobs, deliver them here one by one; record them with the next lease."""
        finished: list[Finished] = []
        release = True
        while True:
            room = self._room(counts, 0, max_jobs, self.batch)
            self._woken.clear()
            outcomes, leased, _ = self._record(finished, room=room, release=release)
            counts[0] += len(outcomes)
            counts[1] += len(leased)
            if not leased:
                return
            release = self._release_due()
            outcomes, finished = self._one_by_one(leased)
            counts[0] += len(outcomes)

    def _one_by_one(self, leased: list[Leased]) -> tuple[list[Outcome], list[Finished]]:
        """Deliver ``leased`` here one after another, each only while its lease has
        :attr:`need` left (see :meth:`_renew`); return the outcomes recorded on the way and
        the finished deliveries still to record."""
        outcomes: list[Outcome] = []
        finished: list[Finished] = []
        # The leases held here change only when renewed, so their earliest end is found once
        # per renewal, not once per job.
        soonest = min((item.expires for item in leased), default=None)
        while leased:
            if soonest is not None and soonest - self.clock() < self.need:
                outcomes += self._renew(finished, leased)
                finished = []
                soonest = min((item.expires for item in leased), default=None)
                continue
            item = leased.pop(0)
            finished.append(self._call(item.delivery, item))
        return outcomes, finished

    def _drain_pooled(
        self,
        pool: ThreadPoolExecutor,
        max_jobs: int | None,
        counts: list[int],
    ) -> None:
        """Keep ``in_flight`` deliveries going on ``pool``, and jobs leased and ready behind
        them: a slot that frees up starts the next ready job at once. Once ``batch`` jobs
        (``in_flight``, at least :data:`BATCH_FLOOR`) have left the ready ones, this thread
        records the finished ones and leases as many again in one transaction, while
        ``in_flight`` jobs are still ready, so the slots that free up meanwhile do not wait on
        the database (one commit per ``batch`` jobs or so)."""
        batch = max(self.in_flight, BATCH_FLOOR)
        slots = 2 * self.in_flight + batch  # in flight, ready during the refill, the batch
        busy: dict[Future[Finished], Leased] = {}
        ready: list[Leased] = []  # leased, not started; earliest deadline first
        finished: list[Finished] = []
        look = release = backlog = True  # backlog: the last lease got all it asked for
        while True:
            starting = ready[: self.in_flight - len(busy)]
            if self._late([*starting, *(f.leased for f in finished)], self.clock()):
                counts[0] += len(self._renew(finished, ready))
                finished = []
            while ready and len(busy) < self.in_flight:
                item = ready.pop(0)
                busy[pool.submit(self._call, item.delivery, item)] = item
            room = self._room(counts, len(busy) + len(ready), max_jobs, slots)
            # with few jobs due, a lease per finished job would be a commit per job: then
            # only when the ready ones ran out
            refill = look and room > 0 and (not ready or (backlog and room >= batch))
            # Transactions come in batches: when a batch's worth of room or outcomes is there
            # (record and lease together), when the ready jobs ran out, or at the end. A
            # finished job's successor of its key is leasable only once it is recorded: at
            # the latest when the ready jobs run out or a batch of outcomes waits.
            if refill or (finished and (len(finished) >= batch or not busy)):
                asked = room if look and room > 0 else 0  # the commit is paid: lease too
                if asked > 0:
                    self._woken.clear()
                outcomes, leased, _ = self._record(finished, room=asked, release=release)
                counts[0] += len(outcomes)
                counts[1] += len(leased)
                finished = []
                release = self._release_due()
                if asked:
                    # fewer: nothing else is due until one finishes
                    look = backlog = len(leased) == asked
                if leased:
                    ready = sorted(ready + leased, key=_edf)
                    continue  # start them before waiting
            if not busy:
                return
            # woken up when a finished job's lease comes down to what recording it may take
            soon = min((f.leased.expires for f in finished if f.leased), default=None)
            timeout = None if soon is None else (soon - self.need - self.clock()).total_seconds()
            done, _ = wait(busy, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                del busy[future]
                finished.append(future.result())
            look = look or bool(done)  # a finished job may unblock the next one of its key

    def _late(self, items: Iterable[Leased | None], now: datetime) -> bool:
        """Whether a lease of ``items`` has less than :attr:`need` left."""
        return any(item is not None and item.expires - now < self.need for item in items)

    def _renew(self, finished: list[Finished], ready: list[Leased]) -> list[Outcome]:
        """Record ``finished`` and renew the leases of ``ready`` in one transaction; keep in
        ``ready`` (in place, in order) only the jobs whose lease was still held: one that ran
        out may be with another worker already and is not started here."""
        outcomes, _, held = self._record(finished, renew=ready)
        ready[:] = held
        return outcomes

    def _release_due(self) -> bool:
        last = self._last_release
        return last is None or self.clock() - last >= RELEASE_EVERY

    # --- the database side --------------------------------------------------------------

    def _record(
        self,
        finished: list[Finished],
        *,
        room: int = 0,
        release: bool = False,
        renew: Sequence[Leased] = (),
    ) -> tuple[list[Outcome], list[Leased], list[Leased]]:
        """Record ``finished`` outcomes, renew the leases of ``renew`` still held, then lease
        up to ``room`` jobs: one transaction. Returns the outcomes, the jobs leased and the
        jobs of ``renew`` whose lease was renewed. The connection is taken from the pool for
        this transaction only: none is held while the handlers wait on upstream."""
        if not finished and room <= 0 and not renew:
            return [], [], []
        now = self.clock()
        with begin_write(self.engine) as connection, write_transaction(connection):
            recorded = record_outcomes(connection, finished, self.policy, self.worker_id)
            renewed = renew_on(connection, renew, now, lease_for=self.lease_for)
            leased: list[Leased] = []
            if room > 0:
                if release:
                    release_expired(connection, now, self.policy, self.metrics)
                    self._last_release = now
                leased = lease_on(
                    connection,
                    self.worker_id,
                    now,
                    lease_for=self.lease_for,
                    limit=room,
                    kinds=self.handlers.kinds(),
                )
        for item in leased:
            self.metrics.of_kind(item.delivery.kind).attempts.inc()
        for r in recorded:
            after_commit(r, self.worker_id, self.metrics)
            # its hook may withdraw jobs that held later ones back: then look again
            if tell_hooks(r, self.handlers.get(r.finished.delivery.kind)):
                self._woken.set()
        held = {(item.delivery.job_id, item.delivery.lease_token) for item in renewed}
        for item in renew:
            if (item.delivery.job_id, item.delivery.lease_token) not in held:
                job_id, kind = item.delivery.job_id, item.delivery.kind
                log.warning(
                    "lease_lost_before_start job_id=%s kind=%s worker=%s",
                    job_id,
                    kind,
                    self.worker_id,
                    extra={"event": "lease_lost_before_start", "job_id": job_id, "kind": kind},
                )
        return [r.outcome for r in recorded], leased, renewed

    def _call(self, delivery: Delivery, leased: Leased | None) -> Finished:
        """Run the handler (on any thread) and classify what it did."""
        registration = self.handlers.get(delivery.kind)
        started = self.clock()
        began = time.perf_counter()
        result: Result
        error: str | None
        receipt: Receipt | None = None
        refused = False
        try:
            returned = registration.handler(delivery)
        except Exception as exc:
            result, error, refused = registration.classify_error(exc)
        else:
            result, error = "delivered", None
            receipt = returned if isinstance(returned, Receipt) else None
        duration = time.perf_counter() - began
        return Finished(
            delivery, leased, result, error, started, self.clock(), duration, receipt, refused
        )
