"""The durable upload queue: transactional outbox, leases, retries, deadlines.

Knows nothing of settlements: a job is a kind, a JSON payload, an idempotency key, an
optional ordering key and a deadline. Nothing here imports the adapter or the connectors.

Contracts
---------
* **Enqueue** (:func:`enqueue`, :meth:`UploadQueue.enqueue`; several jobs in one statement:
  :func:`enqueue_many`, :meth:`UploadQueue.enqueue_many`) writes in the caller's own
  transaction: the job exists if and only if the caller commits. One job per idempotency key.
  A caller with no transaction of its own: :func:`enqueue_now` (``UploadQueue.enqueue(None,
  spec)``), one autocommit statement on PostgreSQL.
* **Delivery** (:class:`Worker`): jobs are leased earliest deadline first; within one
  ordering key strictly in enqueue order — a later job waits while an earlier one is
  pending, in flight or dead, so an earlier job is due when the earliest due job queued
  after it under its key is (its deadline is brought forward at enqueue). A worker keeps
  up to ``in_flight`` deliveries going at once (handler threads), which never include two
  jobs of one ordering key. A handler returns
  (delivered) or raises (:class:`TransientDeliveryError`, :class:`PermanentDeliveryError`,
  or anything else, classified by the ``classify`` hook or counted transient). Leases
  expire, so a lost worker's job comes back; its history shows a ``lease_expired`` attempt.
* **Retries** follow :class:`RetryPolicy` (exponential back-off, jitter, cap, max attempts
  and age); a permanent error, or a policy that gives up, moves the job to ``dead`` with
  the upstream's message. :func:`upload_queue.admin.retry` re-sends, optionally with a
  corrected payload (the replaced payload is kept).
* **Refusals**: a permanent failure the receiver answered as a refusal
  (:class:`RefusedDeliveryError`, or the ``classify`` hook's ``"refused"``) is recorded as a
  ``refused`` attempt: the job certainly took no effect there. A kind's ``on_refused`` hook
  hears of each of its jobs that went dead on one, its ``on_delivered`` hook of each delivered.
* **Withdrawal** (:func:`upload_queue.withdrawal.withdraw_refused`, in the caller's
  transaction): a dead job every attempt of which was refused (or undone since by the
  receiver, as its caller says), with the jobs queued only to undo it, becomes
  ``withdrawn`` — never sent, holding no later job of its key back.
* **States** an operator sees: ``pending``, ``in_flight``, ``delivered``, ``dead``,
  ``withdrawn``.
* **Deadlines**: at-risk and missed jobs are reported by :meth:`UploadQueue.summary`,
  :meth:`UploadQueue.health` (for ``/healthz``), Prometheus gauges, and once-per-job log
  events ``deadline_at_risk`` / ``deadline_missed`` on the ``upload_queue`` logger.
* **Scheduling** (:class:`QueueRunner`): APScheduler triggers draining and the deadline
  watch; the table, not APScheduler, is durable; the watch runs on one instance at a time.

Tables live on :data:`upload_queue.tables.metadata`; times are aware and stored in UTC.
The in-package modules: ``jobs`` (types), ``enqueue``, ``enqueue_now``, ``transactions`` (write
transactions), ``leasing``, ``recovery`` (expired and orphaned leases), ``worker``,
``outcomes`` (recording a delivery's outcome), ``handlers``, ``retry``, ``deadlines``,
``reporting``, ``progress`` (where some jobs stand), ``admin``, ``withdrawal``, ``ledger`` (the
delivery ledger), ``metrics``, ``locks``, ``scheduler``, ``facade``, ``clock``, ``errors``,
``tables``.
"""

from upload_queue.clock import Clock, ManualClock, utcnow
from upload_queue.enqueue import enqueue, enqueue_many
from upload_queue.enqueue_now import enqueue_now
from upload_queue.errors import (
    DeliveryError,
    JobChanged,
    JobNotFound,
    JobNotRetryable,
    PermanentDeliveryError,
    QueueError,
    RefusedDeliveryError,
    TransientDeliveryError,
    UnknownKind,
)
from upload_queue.facade import UploadQueue
from upload_queue.handlers import Classifier, Handler, Handlers
from upload_queue.jobs import (
    Attempt,
    Delivery,
    Job,
    JobSpec,
    PayloadRevision,
    Status,
    encode_payload,
)
from upload_queue.ledger import LedgerEntry, Receipt
from upload_queue.metrics import QueueMetrics, metrics_for
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.scheduler import QueueRunner
from upload_queue.worker import Worker

__all__ = [
    "DEAD",
    "Attempt",
    "Classifier",
    "Clock",
    "Delivery",
    "DeliveryError",
    "Handler",
    "Handlers",
    "Job",
    "JobChanged",
    "JobNotFound",
    "JobNotRetryable",
    "JobSpec",
    "LedgerEntry",
    "ManualClock",
    "PayloadRevision",
    "PermanentDeliveryError",
    "QueueError",
    "QueueMetrics",
    "QueueRunner",
    "Receipt",
    "RefusedDeliveryError",
    "RetryPolicy",
    "Status",
    "TransientDeliveryError",
    "UnknownKind",
    "UploadQueue",
    "Worker",
    "encode_payload",
    "enqueue",
    "enqueue_many",
    "enqueue_now",
    "metrics_for",
    "utcnow",
]
