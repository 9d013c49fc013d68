"""IT's REST surface on the upload queue: the jobs, a re-send, reversal or withdrawal of a dead
one, the counts and deadlines, and the settlements at risk of missing clearing.

The routes go through the operator use cases (:class:`adapter.services.operations.Operations`):
a re-send here is the one the IT page and ``wi-adapter queue retry`` make.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from adapter.api.deps import MonthlyDep, OperationsDep, SettingsDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import MAX_ROW, It, Out, RowId
from adapter.domain.masking import mask_body
from adapter.domain.months import day_began
from adapter.domain.ports import UploadJob
from adapter.services.monthly_clearing import AtRisk
from adapter.settings import Settings

router = APIRouter(tags=["upload queue"], route_class=ParsedOnce)
Status = Literal["pending", "in_flight", "delivered", "dead", "withdrawn"]


def _now(settings: Settings) -> datetime:
    """Now in the site's zone: a job's time left counts from the site's clock."""
    return datetime.now(UTC).astimezone(settings.zone)


class JobOut(Out):
    """An upload job as IT's list shows it: personal data in the payload masked (a corrected
    payload sent back with the masks untouched gets the original values again)."""

    id: int
    kind: str = Field(description="the upstream interface (infno)", examples=["WI2301"])
    payload: dict[str, Any] = Field(
        description="what is sent upstream, as sent (its local times verbatim), personal data "
        "masked"
    )
    idempotency_key: str = Field(description="the write's first msgid")
    ordering_key: str | None = Field(description="the encounter: its writes go in order")
    deadline: datetime = Field(description="when upstream must have it (N§33: 30 minutes)")
    created_at: datetime
    status: Status
    available_at: datetime = Field(description="the next attempt, not before")
    attempts: int = Field(description="attempts since the last re-send")
    total_attempts: int
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None
    withdrawn_at: datetime | None = Field(
        None,
        description="withdrawn, never to be sent (last_error says why): a settlement upload "
        "upstream refused every time, and the revocation that then had nothing to revoke",
    )
    leased_by: str | None = Field(description="the worker delivering it now")
    lease_expires_at: datetime | None
    time_left_s: int = Field(
        description="seconds to the deadline (negative: missed); for a delivered job, what was "
        "left when it was delivered (negative: delivered late)"
    )
    waiting_for: int | None = Field(
        None,
        description="an earlier job of the same stay not yet delivered, which goes first "
        "(the earliest; a dead one holds this job back until it is re-sent)",
    )

    @classmethod
    def of(cls, job: UploadJob, now: datetime, waiting_for: int | None = None) -> JobOut:
        body: dict[str, Any] = asdict(job)  # type: ignore[call-overload]  # the queue's: dataclasses
        body["waiting_for"] = waiting_for
        body["payload"] = mask_body(body["payload"])
        # a delivered job's deadline is settled: it was met or missed when it was delivered,
        # and stays so however long ago that was
        at = body.get("delivered_at") or now
        body["time_left_s"] = int((job.deadline - at).total_seconds())
        return cls(**body)


class JobsOut(Out):
    jobs: list[JobOut]


@router.get("/api/v1/queue/jobs", summary="Upload jobs, deadline first")
def list_jobs(
    _: It,
    ops: OperationsDep,
    settings: SettingsDep,
    status: Status | None = None,
    kind: str | None = Query(None, examples=["WI2301"]),
    encounter: str | None = Query(None, description="the encounter (ordering key)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW),
) -> JobsOut:
    jobs = ops.jobs.list(
        status=status, kind=kind, ordering_key=encounter, limit=limit, offset=offset
    )
    now = _now(settings)
    held = ops.jobs.held_back_by(job.id for job in jobs if job.status == "pending")
    return JobsOut(jobs=[JobOut.of(job, now, held.get(job.id)) for job in jobs])


class RetryRequest(BaseModel):
    payload: dict[str, Any] | None = Field(
        None, description="a corrected payload; the original is kept in the job's history"
    )
    note: str | None = Field(None, max_length=500, examples=["补充诊断编码后重发"])


@router.post("/api/v1/queue/jobs/{job_id}/retry", summary="Re-send a dead job")
def retry_job(
    job_id: RowId,
    principal: It,
    ops: OperationsDep,
    settings: SettingsDep,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> JobOut:
    body = body or RetryRequest()
    job = ops.resend_job(job_id, actor=principal.name, payload=body.payload, note=body.note or "")
    return JobOut.of(job, _now(settings))


class ReverseRequest(BaseModel):
    note: str | None = Field(None, max_length=500, examples=["超时未获回复，需更正诊断后重发"])


@router.post(
    "/api/v1/queue/jobs/{job_id}/reverse",
    summary="Have upstream reverse a dead job's write (WI2601) so it can be corrected",
)
def reverse_job(
    job_id: RowId,
    principal: It,
    ops: OperationsDep,
    settings: SettingsDep,
    body: Annotated[ReverseRequest | None, Body()] = None,
) -> JobOut:
    """Queues the reversal of the write a dead job may have made (its attempts timed out or
    lost their reply): ``omsgid`` its msgid, ``oinfno`` its kind. Answers the reversal job.
    Once it is delivered, ``retry`` sends the job, corrected or not, under a fresh msgid;
    until then ``retry`` is refused (``JOB_REVERSAL_PENDING``). Refused (409) for a job that
    is not dead (``JOB_NOT_REVERSIBLE``), was never sent or was refused
    (``JOB_NOTHING_TO_REVERSE``: correct and re-send it), is itself a reversal
    (``JOB_IS_REVERSAL``), or is being reversed already (``JOB_REVERSAL_EXISTS``)."""
    body = body or ReverseRequest()
    queued = ops.reverse_job(job_id, actor=principal.name, note=body.note or "")
    return JobOut.of(ops.jobs.get(queued.job_id), _now(settings))


class WithdrawnOut(Out):
    """A dead settlement upload withdrawn with its settlement's revocation."""

    already: bool = Field(description="withdrawn before this request: nothing changed")
    job: JobOut = Field(description="the settlement upload, withdrawn (last_error says why)")
    revocation: JobOut | None = Field(description="its revocation (WI2305), withdrawn with it")


@router.post(
    "/api/v1/queue/jobs/{job_id}/withdraw",
    summary="Withdraw a dead settlement upload upstream holds nothing of, with its revocation",
)
def withdraw_job(
    job_id: RowId, principal: It, ops: OperationsDep, settings: SettingsDep
) -> WithdrawnOut:
    """For a dead settlement upload (WI2301, WI2701) whose settlement was revoked: when every
    attempt was upstream's refusal, or was made under a msgid whose reversal (WI2601) upstream
    acknowledged, upstream holds no settlement, and the upload and its revocation (WI2305)
    are withdrawn — never sent; the stay's later uploads go (N§33, B§32). What the adapter
    does by itself when the refusal or the reversal comes, for one it did not (older than
    the feature, or its hook failed). Audited. Refused (409), nothing changed: not a dead
    settlement upload (``JOB_NOT_WITHDRAWABLE``), settlement not revoked (``JOB_NOT_REVOKED``:
    correct and re-send it), never sent (``JOB_NEVER_SENT``: re-send it), an attempt that
    may have reached upstream (``JOB_MAY_HOLD_SETTLEMENT``: reverse it first, or re-send
    it), the revocation under way (``JOB_REVOCATION_UNDER_WAY``). A job withdrawn already
    answers 200 with ``already``."""
    done = ops.withdraw_job(job_id, actor=principal.name)
    now = _now(settings)
    revocation = ops.jobs.get(done.revocation_job) if done.revocation_job else None
    return WithdrawnOut(
        already=done.already,
        job=JobOut.of(ops.jobs.get(job_id), now),
        revocation=JobOut.of(revocation, now) if revocation is not None else None,
    )


class QueueSummaryOut(Out):
    by_status: dict[str, int] = Field(description="jobs by status")
    by_kind: dict[str, dict[str, int]] = Field(description="jobs by kind (infno), then status")
    oldest_pending: JobOut | None
    next_deadline: datetime | None = Field(
        description="the earliest deadline of the jobs not delivered (dead ones too)"
    )
    at_risk: int = Field(description="undelivered, the deadline near")
    missed: int = Field(description="undelivered, past the deadline now")
    missed_today: int | None = Field(description="deadlines missed since the day began")
    clearing_at_risk: int = Field(description="settlement uploads at risk of missing clearing")


@router.get("/api/v1/queue/summary", summary="Counts and deadlines")
def queue_summary(
    _: It, ops: OperationsDep, monthly: MonthlyDep, settings: SettingsDep
) -> QueueSummaryOut:
    now = _now(settings)
    summary = ops.jobs.summary(since=day_began(now, settings.zone))
    oldest = summary.oldest_pending
    return QueueSummaryOut(
        by_status=summary.by_status,
        by_kind=summary.by_kind,
        oldest_pending=JobOut.of(oldest, now) if oldest else None,
        next_deadline=summary.next_deadline,
        at_risk=summary.at_risk,
        missed=summary.missed,
        missed_today=summary.missed_since,
        clearing_at_risk=len(monthly.clearing.at_risk().items),
    )


CutoffKind = Literal["monthly", "half_yearly", "year_end"]


class AtRiskOut(Out):
    """A settlement upload at risk of missing clearing, and the cutoff it must meet."""

    setl_id: str
    slip_no: str
    psn_no: str
    encounter_id: str
    infno: str = Field(examples=["WI2301"])
    msgid: str
    month: str = Field(description="the settlement month (N§35)", examples=["2026-01"])
    reason: Literal["pending", "dead", "late"]
    reason_label: str
    cutoff: date = Field(description="the cutoff it must meet")
    cutoff_kind: CutoffKind
    cutoff_label: str
    article: str
    days_left: int = Field(description="days from today to the cutoff (negative: past)")
    delivered_at: datetime | None = Field(description="a late delivery: when it reached upstream")

    @classmethod
    def of(cls, item: AtRisk) -> AtRiskOut:
        return cls(**{**item.as_dict(), "delivered_at": item.delivered_at})


class CutoffCountOut(Out):
    cutoff: date
    cutoff_kind: CutoffKind
    count: int = Field(description="settlement uploads at risk of missing it")


class ClearingOut(Out):
    today: date
    count: int
    by_cutoff: list[CutoffCountOut]
    settlements: list[AtRiskOut]


@router.get(
    "/api/v1/queue/clearing",
    summary="Settlements at risk of missing clearing, by cutoff (N§35, B§37, N§40, N§43)",
)
def queue_clearing(_: It, monthly: MonthlyDep) -> ClearingOut:
    """Every settlement whose upload (WI2301, WI2701, or a revocation WI2305) is pending or
    dead — listed until delivered — or was delivered after its monthly cutoff (listed until
    its half-yearly cutoff), with the cutoff it must meet and the days left (negative: past)."""
    report = monthly.clearing.at_risk()
    by_cutoff = [
        CutoffCountOut(cutoff=date.fromisoformat(cutoff), cutoff_kind=kind, count=count)
        for (cutoff, kind), count in sorted(report.by_cutoff().items())
    ]
    return ClearingOut(
        today=report.today,
        count=len(report.items),
        by_cutoff=by_cutoff,
        settlements=[AtRiskOut.of(item) for item in report.items],
    )
