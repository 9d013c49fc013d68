"""IT's REST surface over the composition's parts: metrics, the upload queue, the call log.

These routes live at the composition root because they speak to ``upload_queue`` and
``connectors`` directly; the use-case routes in ``adapter.api`` never do.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from adapter.api.auth import require
from adapter.domain.errors import DomainError
from adapter.store.tokens import Principal
from connectors.hl7 import ReprocessRefused
from connectors.hl7.masking import mask_hl7
from connectors.upstream.masking import mask_body
from upload_queue.jobs import Job

router = APIRouter()
IT = Annotated[Principal, Depends(require("it"))]
Status = Literal["pending", "in_flight", "delivered", "dead"]
# Row ids and offsets fit a 64-bit integer (SQLite INTEGER, PostgreSQL bigint); a larger
# number is a 422 naming the field, not a 500 from the database driver.
MAX_ROW = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW)]


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics (queue backlog, deadlines, deliveries)",
    response_class=Response,
)
def metrics(request: Request, _: IT) -> Response:
    runtime = _runtime(request)
    runtime.queue.health()  # refresh the backlog and deadline gauges before a scrape
    return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)


def _job(job: Job, now: datetime) -> dict[str, Any]:
    """A job as IT's list shows it: personal data in the payload masked (a corrected payload
    sent back with the masks untouched gets the original values again: ``resend_job``)."""
    body = asdict(job)
    body["payload"] = mask_body(body["payload"])
    body["time_left_s"] = int((job.deadline - now).total_seconds())
    for name, value in body.items():
        if isinstance(value, datetime):
            body[name] = value.isoformat()
    return body


@router.get("/api/v1/queue/jobs", tags=["upload queue"], summary="Upload jobs, deadline first")
def list_jobs(
    request: Request,
    _: IT,
    status: Status | None = None,
    kind: str | None = Query(None, examples=["WI2301"]),
    encounter: str | None = Query(None, description="the encounter (ordering key)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW),
) -> dict[str, Any]:
    runtime = _runtime(request)
    jobs = runtime.queue.list_jobs(
        status=status, kind=kind, ordering_key=encounter, limit=limit, offset=offset
    )
    now = datetime.now(UTC)
    return {"jobs": [_job(job, now) for job in jobs]}


class RetryRequest(BaseModel):
    payload: dict[str, Any] | None = Field(
        None, description="a corrected payload; the original is kept in the job's history"
    )
    note: str | None = Field(None, max_length=500, examples=["补充诊断编码后重发"])


@router.post(
    "/api/v1/queue/jobs/{job_id}/retry", tags=["upload queue"], summary="Re-send a dead job"
)
def retry_job(
    request: Request,
    job_id: RowId,
    principal: IT,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> dict[str, Any]:
    body = body or RetryRequest()
    job = _runtime(request).resend_job(
        job_id, actor=principal.name, payload=body.payload, note=body.note or ""
    )
    return _job(job, datetime.now(UTC))


@router.get("/api/v1/queue/summary", tags=["upload queue"], summary="Counts and deadlines")
def queue_summary(request: Request, _: IT) -> dict[str, Any]:
    summary = _runtime(request).queue.summary()
    now = datetime.now(UTC)
    return {
        "by_status": summary.by_status,
        "by_kind": summary.by_kind,
        "oldest_pending": _job(summary.oldest_pending, now) if summary.oldest_pending else None,
        "next_deadline": summary.next_deadline.isoformat() if summary.next_deadline else None,
        "at_risk": summary.at_risk,
        "missed": summary.missed,
    }


@router.get("/api/v1/upstream/calls", tags=["upstream"], summary="The upstream call log")
def upstream_calls(
    request: Request,
    _: IT,
    encounter: str | None = None,
    msgid: str | None = None,
    infno: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    calls = _runtime(request).call_log.search(
        context=encounter,
        msgid=msgid,
        infno=infno,
        since=since,
        until=until,
        outcome=outcome,
        limit=limit,
    )
    items = []
    for call in calls:
        item = asdict(call)
        item["started_at"] = call.started_at.isoformat()
        items.append(item)
    return {"calls": items}


class ResendRequest(BaseModel):
    overrides: dict[str, Any] | None = Field(
        None, description="values for fields the log keeps masked (e.g. certno)"
    )


@router.post(
    "/api/v1/upstream/calls/{call_id}/resend",
    tags=["upstream"],
    summary="Re-send a logged read (writes are re-sent from the upload queue)",
)
def resend_call(
    request: Request,
    call_id: RowId,
    principal: IT,
    body: Annotated[ResendRequest | None, Body()] = None,
) -> dict[str, Any]:
    runtime = _runtime(request)
    overrides = body.overrides if body else None
    output = runtime.call_log.resend(call_id, runtime.gateway, overrides=overrides)
    runtime.audit(
        actor=principal.name,
        action="upstream.resend",
        subject_type="upstream_call",
        subject_id=str(call_id),
        details={},
    )
    return {"output": output}


@router.get("/api/v1/hl7/messages", tags=["hl7"], summary="The inbound HL7 message log")
def hl7_messages(
    request: Request,
    _: IT,
    control_id: str | None = None,
    visit: str | None = Query(None, description="PV1-19 visit number"),
    type: str | None = Query(None, examples=["ADT^A01", "DFT"]),
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    hl7 = _hl7(request)
    messages = hl7.log.search(
        control_id=control_id,
        visit_number=visit,
        message_type=type,
        outcome=outcome,
        since=since,
        until=until,
        limit=limit,
    )
    return {"messages": [_message(m) for m in messages]}


@router.post(
    "/api/v1/hl7/messages/{message_id}/reprocess",
    tags=["hl7"],
    summary="Process a stored message again (after a fix); its history is kept",
)
def hl7_reprocess(request: Request, message_id: RowId, principal: IT) -> dict[str, Any]:
    hl7 = _hl7(request)
    try:
        message = hl7.inbound.reprocess(message_id, actor=principal.name)
    except ReprocessRefused as exc:
        raise DomainError(str(exc), code="HL7_REPROCESS_REFUSED") from exc
    _runtime(request).audit(
        actor=principal.name,
        action="hl7.reprocess",
        subject_type="hl7_message",
        subject_id=str(message_id),
        details={"ack_code": message.ack_code or "", "outcome": message.outcome or ""},
    )
    return _message(message)


def _hl7(request: Request) -> Any:
    hl7 = _runtime(request).hl7
    if hl7 is None:
        raise DomainError("本实例未启用 HL7 接口（hl7.enabled = false）", code="HL7_DISABLED")
    return hl7


def _text(data: bytes | None, charset: str) -> str:
    """The message as text in its own charset, with personal data masked (IT reads this
    list): citizen IDs, names, phones, card numbers (:func:`connectors.hl7.masking.mask_hl7`)."""
    if not data:
        return ""
    codec = "gb18030" if "18030" in (charset or "") else "utf-8"
    return mask_hl7(data.decode(codec, "replace"))


def _message(message: Any) -> dict[str, Any]:
    body = asdict(message)
    body["raw"] = _text(message.raw, message.charset)
    body["ack"] = _text(message.ack, message.charset)
    for name in ("received_at", "processed_at"):
        body[name] = body[name].isoformat() if body[name] else None
    return body
