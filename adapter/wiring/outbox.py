"""The use cases' ``Outbox`` port on the real upload queue, and the handlers that deliver.

Every upstream write is one job whose kind is its ``infno`` and whose idempotency key is its
``msgid``. The payload carries everything a delivery needs, so a job can be re-sent after a
restart, by another instance, or by IT with a corrected payload::

    {"msgid": "...", "input": {...}, "insuplc_admdvs": "310100", "context": "<encounter id>"}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from adapter.domain.errors import UpstreamMalformed, UpstreamRejected, UpstreamUnavailable
from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import UpstreamGateway, require_write, write_infnos
from upload_queue import ledger, reporting
from upload_queue.errors import ErrorKind
from upload_queue.facade import UploadQueue
from upload_queue.jobs import Delivery, JobSpec
from upload_queue.ledger import Receipt


class QueueOutbox:
    """``Outbox`` on :class:`UploadQueue`; wakes the workers once the use case commits."""

    def __init__(self, queue: UploadQueue, wake: Callable[[], None] | None = None) -> None:
        self._queue = queue
        self._wake = wake

    def enqueue(
        self,
        session: Any,
        *,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        ordering_key: str,
        deadline: datetime,
    ) -> QueuedUpload:
        job = self._queue.enqueue(
            session,
            JobSpec(
                kind=kind,
                payload=payload,
                idempotency_key=idempotency_key,
                ordering_key=ordering_key,
                deadline=deadline,
            ),
        )
        if self._wake is not None and isinstance(session, Session):
            wake = self._wake
            if not event.contains(session, "after_commit", _waker(wake)):
                event.listen(session, "after_commit", _waker(wake), once=True)
        return QueuedUpload(job.id, job.kind, job.idempotency_key, job.deadline)

    def delivered(self, session: Any, idempotency_key: str) -> bool:
        """Delivered, per the queue's delivery ledger: still true after the job is purged."""
        return ledger.delivered(_connection(session), idempotency_key)

    # --- :class:`adapter.services.monthly_clearing.UploadTracker` -------------------------

    def unfinished(self, session: Any, kinds: Iterable[str]) -> dict[str, str]:
        """Jobs of ``kinds`` not yet delivered: msgid (idempotency key) → status."""
        return reporting.unfinished(_connection(session), kinds)

    def deliveries_since(
        self, session: Any, kinds: Iterable[str], since: datetime
    ) -> dict[str, datetime]:
        """Jobs of ``kinds`` delivered since ``since`` (the ledger): msgid → delivered at."""
        entries = ledger.deliveries(_connection(session), kinds=kinds, since=since)
        return {e.idempotency_key: e.delivered_at for e in entries}

    def job_state(self, session: Any, idempotency_key: str) -> tuple[str, str] | None:
        return reporting.state_of(_connection(session), idempotency_key)


def _connection(session: Any) -> Connection:
    return session.connection() if isinstance(session, Session) else session


_wakers: dict[int, Callable[[Session], None]] = {}


def _waker(wake: Callable[[], None]) -> Callable[[Session], None]:
    """One listener per wake function, so a session with several jobs wakes the runner once."""
    key = id(wake)
    if key not in _wakers:
        _wakers[key] = lambda _session: wake()
    return _wakers[key]


def classify_upstream_error(exc: BaseException) -> ErrorKind | None:
    """Upstream down or garbled → try again later; upstream said no → dead letter for IT."""
    if isinstance(exc, UpstreamRejected):
        return "permanent"
    if isinstance(exc, UpstreamUnavailable | UpstreamMalformed):
        return "transient"
    return None


def deliver_with(gateway: UpstreamGateway) -> Callable[[Delivery], Receipt]:
    def deliver(delivery: Delivery) -> Receipt:
        payload = delivery.payload
        msgid = str(payload.get("msgid") or delivery.idempotency_key)
        ack = gateway.submit(
            require_write(delivery.kind),
            msgid,
            payload.get("input", {}),
            insuplc_admdvs=str(payload.get("insuplc_admdvs", "")),
            context=str(payload.get("context", delivery.ordering_key or "")),
        )
        # a write that returns was accepted: infcode 0 (a refusal raises UpstreamRejected)
        return Receipt(
            reference=msgid, reply_code="0", reply_ref=str(getattr(ack, "refmsgid", "") or "")
        )

    return deliver


def register_upload_handlers(queue: UploadQueue, gateway: UpstreamGateway) -> None:
    """Every write transaction of the dialect is delivered the same way: ``submit`` it."""
    handler = deliver_with(gateway)
    for infno in write_infnos():
        queue.register(infno.value, handler, classify=classify_upstream_error)
