"""``GET /api/v1/audit`` and ``GET /api/v1/audit/verify``: the tamper-evident audit log, for IT."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from adapter.api.auth import require
from adapter.api.deps import EngineDep
from adapter.api.zone import QueryTime, site_time
from adapter.domain.masking import mask_body
from adapter.store.audit import verify
from adapter.store.tokens import Principal
from adapter.store.uow import UnitOfWork

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
IT = Annotated[Principal, Depends(require("it"))]


@router.get("", summary="Audit entries, oldest first, filtered")
def audit_entries(
    _: IT,
    engine: EngineDep,
    actor: str | None = None,
    action: str | None = Query(None, examples=["settle"]),
    subject_type: str | None = Query(None, examples=["encounter"]),
    subject_id: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
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
    items = []
    for entry in entries:
        item = asdict(entry)
        item["at"] = site_time(entry.at)
        item["details"] = mask_body(entry.details)  # entries kept before append masked them
        items.append(item)
    return {"entries": items}


@router.get("/verify", summary="Check the hash chain: the first edited, missing or moved entry")
def audit_verify(_: IT, engine: EngineDep) -> dict[str, Any]:
    result = verify(engine)
    return {
        "ok": result.ok,
        "checked": result.checked,
        "broken_seq": result.broken_seq,
        "problem": result.problem,
    }
