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
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Engine

from adapter.domain.ports import QueuedUpload
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.delivery import FeeDetails
from adapter.services.payloads import feedetail, job_payload
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
    details_of: str = "",
    revokes: str = "",
) -> QueuedUpload:
    """Queue one write in ``uow``'s transaction; returns what the clerk is told about it.
    ``details_of``: the settlement whose snapshot lines go as the write's ``feedetail`` when
    it is delivered (:func:`fee_details`); ``revokes``: a revocation's original upload (its
    key), whose msgid then goes as ``omsgid``."""
    msgid = ctx.msgids.next()
    payload = job_payload(
        infno,
        msgid,
        input,
        insuplc_admdvs=insuplc_admdvs,
        context=encounter_id,
        details_of=details_of,
        revokes=revokes,
    )
    queued = ctx.outbox.enqueue(
        uow.session,
        kind=infno.value,
        payload=payload,
        idempotency_key=msgid,
        ordering_key=encounter_id,
        deadline=deadline,
        encoded=json.dumps(payload, allow_nan=False),  # encoded once: checked and stored
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


def fee_details(engine: Engine, zone: tzinfo) -> FeeDetails:
    """The ``feedetail`` of a settlement's upload (WI2301, WI2701) as it is delivered: the
    settlement's snapshot lines, in line order, in batches of the size the job was queued
    with (a later change of ``fee_batch_size`` does not renumber a queued upload)."""

    def details(settlement_id: str, size: int) -> list[dict[str, Any]]:
        with UnitOfWork(engine) as uow:
            lines = uow.settlements.priced_lines(settlement_id)
        return feedetail(lines, size=size, zone=zone)

    return details


def uploads_for(uow: UnitOfWork, encounter_id: str) -> list[UploadRecord]:
    """The encounter's queued writes, oldest first."""
    return uow.uploads.of_encounter(encounter_id)


def upload_for_settlement(uow: UnitOfWork, settlement_id: str, infno: Infno) -> UploadRecord | None:
    return uow.uploads.latest(infno.value, settlement_id=settlement_id)
