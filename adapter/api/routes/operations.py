"""IT's REST surface: metrics, the upload queue, the upstream call log, the HL7 log.

The routes go through the operator use cases (:class:`adapter.services.operations.Operations`):
a re-send here is the one the IT page and ``wi-adapter queue retry`` make.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from pydantic import BaseModel, Field

from adapter.api.auth import require
from adapter.api.deps import MonthlyDep, OperationsDep, RegistryDep, SettingsDep
from adapter.api.zone import QueryTime
from adapter.domain.masking import mask_body, mask_hl7
from adapter.domain.months import day_began
from adapter.domain.ports import UploadJob
from adapter.services.monthly_clearing import ClearingReport
from adapter.settings import Settings
from adapter.store.tokens import Principal

router = APIRouter()
IT = Annotated[Principal, Depends(require("it"))]
Status = Literal["pending", "in_flight", "delivered", "dead"]
# Row ids and offsets fit a 64-bit integer (SQLite INTEGER, PostgreSQL bigint); a larger
# number is a 422 naming the field, not a 500 from the database driver.
MAX_ROW = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW)]


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics (queue, HTTP, HL7, upstream, process)",
    response_class=Response,
)
def metrics(_: IT, ops: OperationsDep, monthly: MonthlyDep, registry: RegistryDep) -> Response:
    """The runtime's own registry (the upload queue's gauges and counters, disk space) and
    the process-wide one: process and Python collectors, HTTP requests, HL7 messages,
    upstream calls."""
    ops.jobs.health()  # refresh the backlog and deadline gauges before a scrape
    body = generate_latest(REGISTRY)
    if registry is not None:
        _clearing_gauge(registry).refresh(monthly.clearing.at_risk())
        body = generate_latest(registry) + body
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _now(settings: Settings) -> datetime:
    """Now in the site's zone: every time IT reads here carries the site's offset (+08:00)."""
    return datetime.now(UTC).astimezone(settings.zone)


class ClearingGauge:
    """``clearing_settlements_at_risk{cutoff, cutoff_kind, reason}``: settlement uploads at
    risk of missing the clearing cutoff named (N§35, B§33, B§37; N§40, N§43, B§44), and
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


def _job(job: UploadJob, now: datetime) -> dict[str, Any]:
    """A job as IT's list shows it: personal data in the payload masked (a corrected payload
    sent back with the masks untouched gets the original values again: ``resend_job``)."""
    body: dict[str, Any] = asdict(job)  # type: ignore[call-overload]  # the queue's: dataclasses
    body["payload"] = mask_body(body["payload"])
    body["time_left_s"] = int((job.deadline - now).total_seconds())
    for name, value in body.items():
        if isinstance(value, datetime):
            body[name] = value.astimezone(now.tzinfo).isoformat()
    return body


@router.get("/api/v1/queue/jobs", tags=["upload queue"], summary="Upload jobs, deadline first")
def list_jobs(
    _: IT,
    ops: OperationsDep,
    settings: SettingsDep,
    status: Status | None = None,
    kind: str | None = Query(None, examples=["WI2301"]),
    encounter: str | None = Query(None, description="the encounter (ordering key)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW),
) -> dict[str, Any]:
    jobs = ops.jobs.list(
        status=status, kind=kind, ordering_key=encounter, limit=limit, offset=offset
    )
    now = _now(settings)
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
    job_id: RowId,
    principal: IT,
    ops: OperationsDep,
    settings: SettingsDep,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> dict[str, Any]:
    body = body or RetryRequest()
    job = ops.resend_job(job_id, actor=principal.name, payload=body.payload, note=body.note or "")
    return _job(job, _now(settings))


class ReverseRequest(BaseModel):
    note: str | None = Field(None, max_length=500, examples=["超时未获回复，需更正诊断后重发"])


@router.post(
    "/api/v1/queue/jobs/{job_id}/reverse",
    tags=["upload queue"],
    summary="Have upstream reverse a dead job's write (WI2601) so it can be corrected",
)
def reverse_job(
    job_id: RowId,
    principal: IT,
    ops: OperationsDep,
    settings: SettingsDep,
    body: Annotated[ReverseRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Queues the reversal of the write a dead job may have made (its attempts timed out or
    lost their reply): ``omsgid`` its msgid, ``oinfno`` its kind. Answers the reversal job.
    Once it is delivered, ``retry`` sends the job, corrected or not, under a fresh msgid;
    until then ``retry`` is refused (``JOB_REVERSAL_PENDING``). Refused (409) for a job that
    is not dead (``JOB_NOT_REVERSIBLE``), was never sent or was refused
    (``JOB_NOTHING_TO_REVERSE``: correct and re-send it), is itself a reversal
    (``JOB_IS_REVERSAL``), or is being reversed already (``JOB_REVERSAL_EXISTS``)."""
    body = body or ReverseRequest()
    queued = ops.reverse_job(job_id, actor=principal.name, note=body.note or "")
    return _job(ops.jobs.get(queued.job_id), _now(settings))


@router.get("/api/v1/queue/summary", tags=["upload queue"], summary="Counts and deadlines")
def queue_summary(
    _: IT, ops: OperationsDep, monthly: MonthlyDep, settings: SettingsDep
) -> dict[str, Any]:
    now = _now(settings)
    summary = ops.jobs.summary(since=day_began(now, settings.zone))
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
        "missed_today": summary.missed_since,
        "clearing_at_risk": len(monthly.clearing.at_risk().items),
    }


@router.get(
    "/api/v1/queue/clearing",
    tags=["upload queue"],
    summary="Settlements at risk of missing clearing, by cutoff (N§35, B§37, N§40, N§43)",
)
def queue_clearing(_: IT, monthly: MonthlyDep) -> dict[str, Any]:
    """Every settlement whose upload (WI2301, WI2701, or a revocation WI2305) is pending or
    dead — listed until delivered — or was delivered after its monthly cutoff (listed until
    its half-yearly cutoff), with the cutoff it must meet and the days left (negative: past)."""
    report = monthly.clearing.at_risk()
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
    _: IT,
    ops: OperationsDep,
    settings: SettingsDep,
    encounter: str | None = None,
    msgid: str | None = None,
    infno: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    outcome: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    calls = ops.calls.search(
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
        item["started_at"] = call.started_at.astimezone(settings.zone).isoformat()
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
    call_id: RowId,
    principal: IT,
    ops: OperationsDep,
    body: Annotated[ResendRequest | None, Body()] = None,
) -> dict[str, Any]:
    overrides = body.overrides if body else None
    return {"output": ops.resend_call(call_id, actor=principal.name, overrides=overrides)}


@router.get("/api/v1/hl7/messages", tags=["hl7"], summary="The inbound HL7 message log")
def hl7_messages(
    _: IT,
    ops: OperationsDep,
    settings: SettingsDep,
    control_id: str | None = None,
    visit: str | None = Query(None, description="PV1-19 visit number"),
    type: str | None = Query(None, examples=["ADT^A01", "DFT"]),
    outcome: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    messages = ops.hl7_log().search(
        control_id=control_id,
        visit_number=visit,
        message_type=type,
        outcome=outcome,
        since=since,
        until=until,
        limit=limit,
    )
    return {"messages": [_message(m, settings.zone) for m in messages]}


@router.post(
    "/api/v1/hl7/messages/{message_id}/reprocess",
    tags=["hl7"],
    summary="Process a stored message again (after a fix); its history is kept",
)
def hl7_reprocess(
    message_id: RowId, principal: IT, ops: OperationsDep, settings: SettingsDep
) -> dict[str, Any]:
    message = ops.reprocess_hl7(message_id, actor=principal.name)
    return _message(message, settings.zone)


def _text(data: bytes | None, charset: str) -> str:
    """The message as text in its own charset, with personal data masked (IT reads this
    list): citizen IDs, names, phones, card numbers (:func:`adapter.domain.masking.mask_hl7`)."""
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
