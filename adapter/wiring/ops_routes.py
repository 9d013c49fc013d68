"""IT's REST surface over the composition's parts: metrics, the upload queue, the call log.

These routes live at the composition root because they speak to ``upload_queue`` and
``connectors`` directly; the use-case routes in ``adapter.api`` never do.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from pydantic import BaseModel, Field

from adapter.api.auth import require
from adapter.domain.errors import DomainError
from adapter.services.monthly_clearing import ClearingReport
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
    summary="Prometheus metrics (queue, HTTP, HL7, upstream, process)",
    response_class=Response,
)
def metrics(request: Request, _: IT) -> Response:
    """The runtime's own registry (the upload queue's gauges and counters, disk space) and
    the process-wide one: process and Python collectors, HTTP requests, HL7 messages,
    upstream calls."""
    runtime = _runtime(request)
    runtime.queue.health()  # refresh the backlog and deadline gauges before a scrape
    _clearing_gauge(runtime.registry).refresh(runtime.monthly.clearing.at_risk())
    body = generate_latest(runtime.registry) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _now(request: Request) -> datetime:
    """Now in the site's zone: every time IT reads here carries the site's offset (+08:00)."""
    return datetime.now(UTC).astimezone(request.app.state.settings.zone)


class ClearingGauge:
    """``clearing_settlements_at_risk{cutoff, cutoff_kind, reason}``: settlement uploads at
    risk of missing the clearing cutoff named (N§35, B§33, B§37; N§43, B§42), and
    ``clearing_cutoff_days_left{cutoff, cutoff_kind}`` for each of those cutoffs; refreshed
    at each scrape, so a cutoff whose uploads were all delivered drops out."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            "clearing_settlements_at_risk",
            "Settlement uploads (WI2301, WI2701, WI2305) pending, dead or late, by the "
            "clearing cutoff they must meet",
            ["cutoff", "cutoff_kind", "reason"],
            registry=registry,
        )
        self.days_left = Gauge(
            "clearing_cutoff_days_left",
            "Days from today to each clearing cutoff that has settlement uploads at risk "
            "(negative once passed)",
            ["cutoff", "cutoff_kind"],
            registry=registry,
        )

    def refresh(self, report: ClearingReport) -> None:
        counts: dict[tuple[str, str, str], int] = {}
        left: dict[tuple[str, str], int] = {}
        for item in report.items:
            key = (item.cutoff.on.isoformat(), item.cutoff.kind.value, item.reason.value)
            counts[key] = counts.get(key, 0) + 1
            left[key[:2]] = item.days_left
        with _gauges_lock:
            self.gauge.clear()
            self.days_left.clear()
            for (cutoff, kind, reason), count in counts.items():
                self.gauge.labels(cutoff=cutoff, cutoff_kind=kind, reason=reason).set(count)
            for (cutoff, kind), days in left.items():
                self.days_left.labels(cutoff=cutoff, cutoff_kind=kind).set(days)


_gauges: dict[int, ClearingGauge] = {}
_gauges_lock = threading.Lock()


def _clearing_gauge(registry: CollectorRegistry) -> ClearingGauge:
    with _gauges_lock:
        found = _gauges.get(id(registry))
        if found is None:
            found = _gauges[id(registry)] = ClearingGauge(registry)
        return found


def _job(job: Job, now: datetime) -> dict[str, Any]:
    """A job as IT's list shows it: personal data in the payload masked (a corrected payload
    sent back with the masks untouched gets the original values again: ``resend_job``)."""
    body = asdict(job)
    body["payload"] = mask_body(body["payload"])
    body["time_left_s"] = int((job.deadline - now).total_seconds())
    for name, value in body.items():
        if isinstance(value, datetime):
            body[name] = value.astimezone(now.tzinfo).isoformat()
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
    now = _now(request)
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
    return _job(job, _now(request))


@router.get("/api/v1/queue/summary", tags=["upload queue"], summary="Counts and deadlines")
def queue_summary(request: Request, _: IT) -> dict[str, Any]:
    summary = _runtime(request).queue.summary()
    now = _now(request)
    return {
        "by_status": summary.by_status,
        "by_kind": summary.by_kind,
        "oldest_pending": _job(summary.oldest_pending, now) if summary.oldest_pending else None,
        "next_deadline": (
            summary.next_deadline.astimezone(now.tzinfo).isoformat()
            if summary.next_deadline
            else None
        ),
        "at_risk": summary.at_risk,
        "missed": summary.missed,
        "clearing_at_risk": len(_runtime(request).monthly.clearing.at_risk().items),
    }


@router.get(
    "/api/v1/queue/clearing",
    tags=["upload queue"],
    summary="Settlements at risk of missing clearing, by cutoff (N§35, B§33, B§37, N§43, B§42)",
)
def queue_clearing(request: Request, _: IT) -> dict[str, Any]:
    """Every settlement whose upload (WI2301, WI2701, or a revocation WI2305) is pending or
    dead — listed until delivered — or was delivered after its monthly cutoff (listed until
    its half-yearly cutoff), with the cutoff it must meet and the days left (negative: past)."""
    report = _runtime(request).monthly.clearing.at_risk()
    by_cutoff = [
        {"cutoff": cutoff, "cutoff_kind": kind, "count": count}
        for (cutoff, kind), count in sorted(report.by_cutoff().items())
    ]
    return {
        "today": report.today.isoformat(),
        "count": len(report.items),
        "by_cutoff": by_cutoff,
        "settlements": [item.as_dict() for item in report.items],
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
        item["started_at"] = call.started_at.astimezone(_now(request).tzinfo).isoformat()
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
    zone = request.app.state.settings.zone
    return {"messages": [_message(m, zone) for m in messages]}


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
    return _message(message, request.app.state.settings.zone)


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


def _message(message: Any, zone: Any) -> dict[str, Any]:
    body = asdict(message)
    body["raw"] = _text(message.raw, message.charset)
    body["ack"] = _text(message.ack, message.charset)
    for name in ("received_at", "processed_at"):
        body[name] = body[name].astimezone(zone).isoformat() if body[name] else None
    return body
