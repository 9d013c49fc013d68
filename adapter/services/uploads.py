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

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.payloads import job_payload
from adapter.store.repositories import UploadRecord
from adapter.store.uow import UnitOfWork


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
        # encoded once, here: a discharge record of 10,000 lines is 3 MB of JSON, and the
        # queue would otherwise encode it to check it, again to store it, and decode it back
        encoded=json.dumps(payload, allow_nan=False),
    )
    uow.uploads.add(
        UploadRecord(
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
    return uow.uploads.of_encounter(encounter_id)


def upload_for_settlement(uow: UnitOfWork, settlement_id: str, infno: Infno) -> UploadRecord | None:
    return uow.uploads.latest(infno.value, settlement_id=settlement_id)
