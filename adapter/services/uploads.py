"""Queueing an upstream write from inside a use case's transaction (the outbox).

Every write a use case owes upstream (the national system, through the provincial one:
N§5, N§47, B§5, B§47) goes through :func:`queue_upload`: it draws a fresh
``msgid`` (the idempotency key upstream sees), hands the job to the :class:`Outbox` on the
use case's own session — so the job exists if and only if the use case commits — and notes
the upload in ``service_upload`` so the encounter view and later use cases can find it.

Jobs of one encounter share its id as the ordering key, so the queue delivers them in the
order they were queued: a revocation never overtakes the settlement it revokes, and a
discharge record never overtakes the admission registration or the rehab plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.payloads import job_payload
from adapter.store.tables.workflow import service_upload
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class UploadRecord:
    encounter_id: str
    settlement_id: str
    infno: str
    msgid: str
    job_id: int
    deadline: datetime
    created_at: datetime


def queue_upload(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    infno: Infno,
    input: Mapping[str, Any],
    encounter_id: str,
    insuplc_admdvs: str,
    deadline: datetime,
    settlement_id: str = "",
) -> QueuedUpload:
    """Queue one write in ``uow``'s transaction; returns what the clerk is told about it."""
    msgid = ctx.msgids.next()
    payload = job_payload(infno, msgid, input, insuplc_admdvs=insuplc_admdvs, context=encounter_id)
    queued = ctx.outbox.enqueue(
        uow.session,
        kind=infno.value,
        payload=payload,
        idempotency_key=msgid,
        ordering_key=encounter_id,
        deadline=deadline,
    )
    uow.session.execute(
        service_upload.insert().values(
            encounter_id=encounter_id,
            settlement_id=settlement_id,
            infno=infno.value,
            msgid=queued.msgid,
            job_id=queued.job_id,
            deadline=queued.deadline,
            created_at=ctx.now(),
        )
    )
    return queued


def uploads_for(uow: UnitOfWork, encounter_id: str) -> list[UploadRecord]:
    """The encounter's queued writes, oldest first."""
    rows = uow.session.execute(
        select(service_upload)
        .where(service_upload.c.encounter_id == encounter_id)
        .order_by(service_upload.c.id)
    )
    return [_record(row) for row in rows]


def upload_for_settlement(uow: UnitOfWork, settlement_id: str, infno: Infno) -> UploadRecord | None:
    row = uow.session.execute(
        select(service_upload)
        .where(
            service_upload.c.settlement_id == settlement_id,
            service_upload.c.infno == infno.value,
        )
        .order_by(service_upload.c.id.desc())
        .limit(1)
    ).one_or_none()
    return _record(row) if row else None


def _record(row: Any) -> UploadRecord:
    return UploadRecord(
        encounter_id=row.encounter_id,
        settlement_id=row.settlement_id,
        infno=row.infno,
        msgid=row.msgid,
        job_id=row.job_id,
        deadline=row.deadline,
        created_at=row.created_at,
    )
