"""The use cases' ports on the real upload queue — ``Outbox`` for the workflows, ``UploadJobs``
for IT's re-send — and the handlers that deliver.

Every upstream write is one job whose kind is its ``infno`` and whose idempotency key is its
``msgid``. The payload carries everything a delivery needs, so a job can be re-sent after a
restart, by another instance, or by IT with a corrected payload::

    {"msgid": "...", "input": {...}, "insuplc_admdvs": "310100", "context": "<encounter id>"}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from adapter.domain.errors import Conflict, DomainError, NotFound
from adapter.domain.ports import QueuedUpload, UploadProgress, UploadWithdrawal
from adapter.domain.upstream import Infno, UpstreamGateway, write_infnos
from adapter.services.delivery import FeeDetails, deliver, failure_kind
from adapter.services.operations import reversal_key
from upload_queue import admin, ledger, reporting, withdrawal
from upload_queue.errors import JobChanged, JobNotFound, JobNotRetryable
from upload_queue.facade import UploadQueue
from upload_queue.jobs import Delivery, Job, JobSpec, Status
from upload_queue.ledger import Receipt
from upload_queue.progress import progress_of


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
        encoded: str | None = None,
    ) -> QueuedUpload:
        job = self._queue.enqueue(
            session,
            JobSpec(
                kind=kind,
                payload=payload,
                idempotency_key=idempotency_key,
                ordering_key=ordering_key,
                deadline=deadline,
                encoded=encoded,
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

    def due_by(self, session: Any, idempotency_keys: Iterable[str]) -> dict[str, datetime]:
        return reporting.deadlines_of(_connection(session), idempotency_keys)

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

    def job_states(
        self, session: Any, idempotency_keys: Iterable[str]
    ) -> dict[str, tuple[str, str]]:
        return reporting.states_of(_connection(session), idempotency_keys)

    def progress(self, session: Any, idempotency_keys: Iterable[str]) -> dict[str, UploadProgress]:
        found = progress_of(_connection(session), idempotency_keys)
        return {
            key: UploadProgress(
                job_id=p.job_id,
                status=p.status,
                msgid=p.reference,
                attempts=p.attempts,
                next_attempt_at=p.next_attempt_at,
                delivered_at=p.delivered_at,
                last_error=p.last_error,
                held_back_by=p.held_back_by,
            )
            for key, p in found.items()
        }

    def sent_msgid(self, session: Any, idempotency_key: str) -> str:
        """The msgid upstream holds the upload under: its job's current payload's (a re-send
        after a refusal gave it a fresh one), else — the job purged — the one its delivery was
        sent under (the ledger's reference), else the key itself (its first msgid)."""
        return _sent_msgid(_connection(session), idempotency_key)

    def withdraw_refused(
        self,
        session: Any,
        idempotency_key: str,
        undoing: Iterable[str],
        *,
        reason: str | Callable[[str], str],
    ) -> UploadWithdrawal:
        connection = _connection(session)

        def reversed_upstream(payload: Mapping[str, Any]) -> bool:
            # what was sent under that msgid upstream has reversed: its WI2601 delivered
            msgid = str(payload.get("msgid") or idempotency_key)
            return ledger.delivered(connection, reversal_key(msgid))

        undoing = list(undoing)
        ids = withdrawal.ids_of(connection, [idempotency_key, *undoing])
        if idempotency_key not in ids:
            return UploadWithdrawal("not_dead")
        keys = {job_id: key for key, job_id in ids.items()}
        found = withdrawal.withdraw_refused(
            connection,
            ids[idempotency_key],
            [ids[key] for key in undoing if key in ids],
            reason=reason,
            now=self._queue.clock(),
            undone=reversed_upstream,
        )
        return UploadWithdrawal(
            found.certainty,
            tuple(keys[job_id] for job_id in found.withdrawn),
            found.attempts,
            found.uncertain,
            found.undone,
        )


def _sent_msgid(connection: Connection, idempotency_key: str) -> str:
    payload = reporting.payload_of(connection, idempotency_key)
    if payload is not None:
        return str(payload.get("msgid") or idempotency_key)
    entry = ledger.entries_for(connection, [idempotency_key]).get(idempotency_key)
    return entry.reference if entry is not None and entry.reference else idempotency_key


class QueueJobs:
    """``UploadJobs`` on :class:`UploadQueue`: the queue's errors as the adapter's."""

    def __init__(self, queue: UploadQueue, wake: Callable[[], None]) -> None:
        self._queue = queue
        self.wake = wake
        self.summary = queue.summary
        self.health = queue.health
        self.hourly = queue.hourly
        self.held_back_by = queue.held_back_by

    def list(self, *, status: str | None = None, **filters: Any) -> list[Job]:
        # an unknown status matches no job: the REST route and the page offer only the four
        return self._queue.list_jobs(status=cast(Status | None, status), **filters)

    def get(self, job_id: int) -> Job:
        try:
            return admin.get_job(self._queue.engine, job_id)
        except JobNotFound as exc:
            raise _not_found(job_id) from exc

    def outcomes(self, job_id: int) -> Sequence[str]:
        return [attempt.outcome for attempt in admin.attempts(self._queue.engine, job_id)]

    def retry(
        self,
        job_id: int,
        *,
        payload: Mapping[str, Any] | None,
        note: str | None,
        seen_attempts: int | None = None,
    ) -> Job:
        try:
            return self._queue.retry(
                job_id, payload=payload, note=note, seen_attempts=seen_attempts
            )
        except JobNotFound as exc:
            raise _not_found(job_id) from exc
        except JobChanged as exc:
            raise Conflict(
                f"上传任务 {job_id} 刚刚又发送过一次，请刷新查看结果后再决定是否重发",
                code="JOB_CHANGED",
            ) from exc
        except JobNotRetryable as exc:
            raise DomainError(
                f"上传任务 {job_id} 当前状态不能重发（只能重发失败或等待中的任务）",
                code="JOB_NOT_RETRYABLE",
            ) from exc


def _not_found(job_id: int) -> NotFound:
    return NotFound(f"上传任务 {job_id} 不存在", code="JOB_NOT_FOUND")


def _connection(session: Any) -> Connection:
    return session.connection() if isinstance(session, Session) else session


_wakers: dict[int, Callable[[Session], None]] = {}


def _waker(wake: Callable[[], None]) -> Callable[[Session], None]:
    """One listener per wake function, so a session with several jobs wakes the runner once."""
    key = id(wake)
    if key not in _wakers:
        _wakers[key] = lambda _session: wake()
    return _wakers[key]


RefusedUpload = Callable[[str, str], object]
"""A settlement upload's msgid and its stay, once it went dead on upstream's refusal
(:meth:`adapter.services.revocation.Revocations.after_refusal`)."""
ReversedUpload = Callable[[int, str], object]
"""The job id of a dead upload and its stay, once upstream acknowledged its reversal (WI2601
delivered; :meth:`adapter.services.revocation.Revocations.after_reversal`)."""


def register_upload_handlers(
    queue: UploadQueue,
    gateway: UpstreamGateway,
    details: FeeDetails | None = None,
    refused: RefusedUpload | None = None,
    reversed_: ReversedUpload | None = None,
) -> None:
    """Every write transaction of the dialect is delivered the same way: ``submit`` it.
    ``details``: a settlement's fee details, for the settlement uploads that name one (every
    runtime that settles gives it; a queue of other writes needs none). A revocation's
    ``omsgid`` is read from the queue's own database as it is delivered. ``refused`` hears of
    each settlement upload (WI2301, WI2701) that went dead on upstream's refusal, ``reversed_``
    of each dead upload whose reversal (WI2601, queued by IT) upstream acknowledged."""

    def sent_msgid(idempotency_key: str) -> str:
        with queue.engine.connect() as connection:  # closed before the call goes out
            return _sent_msgid(connection, idempotency_key)

    def handle(job: Delivery) -> Receipt:
        msgid, ref = deliver(
            gateway,
            job.kind,
            job.payload,
            job.idempotency_key,
            job.ordering_key,
            details,
            sent_msgid,
        )
        return Receipt(reference=msgid, reply_code="0", reply_ref=ref)

    def on_refused(job: Delivery) -> None:
        if refused is not None and job.ordering_key:
            refused(job.idempotency_key, job.ordering_key)

    def on_reversed(job: Delivery) -> None:
        reverses = job.payload.get("reverses_job")
        if reversed_ is not None and isinstance(reverses, int) and job.payload.get("context"):
            reversed_(reverses, str(job.payload["context"]))

    settlements = {Infno.DISCHARGE, Infno.DEVICE_SETTLEMENT}
    for infno in write_infnos():
        hook = on_refused if infno in settlements and refused is not None else None
        delivered = on_reversed if infno is Infno.REVERSAL and reversed_ is not None else None
        queue.register(
            infno.value, handle, classify=failure_kind, on_refused=hook, on_delivered=delivered
        )
