"""``GET /api/v1/audit`` and ``GET /api/v1/audit/verify``: the tamper-evident audit log, for IT."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from adapter.api.deps import EngineDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import It, Out
from adapter.api.zone import QueryTime
from adapter.domain.masking import mask_body
from adapter.store.audit import AuditEntry, verify
from adapter.store.uow import UnitOfWork

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=ParsedOnce)


class AuditEntryOut(Out):
    """One entry of the chain; personal data in its details masked."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str = Field(examples=["encounter.admit"])
    subject_type: str = Field(examples=["encounter"])
    subject_id: str
    details: dict[str, Any] = Field(description="what the action did, personal data masked")
    prev_hash: str = Field(description="the previous entry's hash (the chain)")
    hash: str
    key_id: str = Field(description="the key that signed the hash")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        # entries kept before append masked them are masked here
        return cls(**{**asdict(entry), "details": mask_body(entry.details)})


class AuditEntriesOut(Out):
    entries: list[AuditEntryOut]


class AuditVerifyOut(Out):
    ok: bool
    checked: int = Field(description="entries checked")
    broken_seq: int | None = Field(description="the first edited, missing or moved entry")
    problem: str


@router.get("", summary="Audit entries, oldest first, filtered")
def audit_entries(
    _: It,
    engine: EngineDep,
    actor: str | None = None,
    action: str | None = Query(None, examples=["settle"]),
    subject_type: str | None = Query(None, examples=["encounter"]),
    subject_id: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> AuditEntriesOut:
    with UnitOfWork(engine) as uow:
        entries = uow.audit.query(
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            since=since,
            until=until,
            limit=limit,
        )
    return AuditEntriesOut(entries=[AuditEntryOut.of(entry) for entry in entries])


@router.get("/verify", summary="Check the hash chain: the first edited, missing or moved entry")
def audit_verify(_: It, engine: EngineDep) -> AuditVerifyOut:
    result = verify(engine)
    return AuditVerifyOut(
        ok=result.ok, checked=result.checked, broken_seq=result.broken_seq, problem=result.problem
    )
