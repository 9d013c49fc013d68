"""What the IT pages need from the operator parts, as a :class:`typing.Protocol`.

``adapter.web`` must not import ``upload_queue`` or ``connectors`` (an import contract says
so). The composition root may pass any :class:`OpsConsole` to :func:`adapter.web.install`;
by default :class:`OperationsConsole` serves it from the operator use cases
(:class:`adapter.services.operations.Operations`) and the monthly clearing report. The
queue's and the HL7 log's data are read only through their own packages (by the ports).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from adapter.domain.errors import NotFound
from adapter.domain.months import day_began
from adapter.services.monthly import MonthlyServices
from adapter.services.operations import Operations


@dataclass(frozen=True)
class HourPoint:
    """One hour of the queue's history, ending at ``at``: the peak backlog during the hour,
    the jobs delivered in it and their delivery latency (created → delivered)."""

    at: datetime
    backlog: int
    delivered: int
    latency_p50_s: float | None
    latency_max_s: float | None


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    status: str
    ordering_key: str | None
    deadline: datetime
    created_at: datetime
    attempts: int
    last_error: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    delivered_at: datetime | None = None
    reversal: str | None = None  # the status of its write's reversal (WI2601), if queued
    waiting_for: int | None = None  # the earlier job of its stay it is held back behind
    withdrawn_at: datetime | None = None  # never to be sent: ``last_error`` says why


@dataclass(frozen=True)
class QueueCounts:
    by_status: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    at_risk: int
    missed: int
    next_deadline: datetime | None
    at_risk_margin: timedelta
    missed_today: int = 0  # deadlines of the site's day missed, late deliveries included


@dataclass(frozen=True)
class CallRow:
    id: int
    started_at: datetime
    infno: str
    msgid: str
    context: str
    duration_ms: int
    outcome: str
    http_status: int | None
    infcode: int | None
    err_msg: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    received_at: datetime
    message_type: str
    control_id: str | None
    visit_number: str | None
    peer: str
    ack_code: str | None
    outcome: str | None
    detail: str | None


@dataclass(frozen=True)
class AtRiskRow:
    """A settlement upload at risk of missing clearing (N§35, B§33, B§37; N§40, N§43)."""

    setl_id: str
    slip_no: str
    infno: str
    msgid: str
    month: str
    reason: str  # pending | dead | late
    reason_label: str
    cutoff: str  # YYYY-MM-DD
    cutoff_label: str
    article: str
    days_left: int
    encounter_id: str = ""  # the stay settled (the 就诊 column links to it)


class OpsConsole(Protocol):
    def counts(self) -> QueueCounts: ...
    def jobs(self, status: str, limit: int = 100) -> list[JobRow]: ...
    def job(self, job_id: int) -> JobRow | None: ...
    def resend(
        self, job_id: int, payload: dict[str, Any] | None, note: str, actor: str
    ) -> None: ...
    def reverse(self, job_id: int, note: str, actor: str) -> int: ...
    def withdraw(self, job_id: int, actor: str) -> int | None: ...
    def calls(self, limit: int = 50) -> list[CallRow]: ...
    def hl7_messages(self, limit: int = 50) -> list[MessageRow] | None: ...
    def history(self, now: datetime, hours: int = 24) -> list[HourPoint]: ...
    def clearing(self) -> list[AtRiskRow]: ...


def _job(job: Any) -> JobRow:
    return JobRow(
        id=job.id,
        kind=job.kind,
        status=job.status,
        ordering_key=job.ordering_key,
        deadline=job.deadline,
        created_at=job.created_at,
        attempts=job.attempts,
        last_error=job.last_error,
        payload=dict(job.payload),
        delivered_at=job.delivered_at,
        withdrawn_at=getattr(job, "withdrawn_at", None),
    )


class OperationsConsole:
    """:class:`OpsConsole` over the operator use cases and the monthly clearing report."""

    def __init__(
        self,
        operations: Operations,
        monthly: MonthlyServices,
        margin: timedelta,
        zone: tzinfo = UTC,
    ) -> None:
        self._ops = operations
        self._monthly = monthly
        self._margin = margin
        self._zone = zone  # where "today" begins for the day's missed deadlines

    def counts(self) -> QueueCounts:
        s = self._ops.jobs.summary(since=day_began(datetime.now(UTC), self._zone))
        return QueueCounts(
            dict(s.by_status), dict(s.by_kind), s.at_risk, s.missed, s.next_deadline,
            self._margin, s.missed_since or 0,
        )  # fmt: skip

    def jobs(self, status: str, limit: int = 100) -> list[JobRow]:
        rows = [_job(j) for j in self._ops.jobs.list(status=status, limit=limit)]
        if status == "pending":  # IT sees why a job with no error does not go
            held = self._ops.jobs.held_back_by(row.id for row in rows)
            return [replace(row, waiting_for=held.get(row.id)) for row in rows]
        if status != "dead":
            return rows
        # IT decides on a dead job knowing whether its write is being, or was, reversed
        reversals = self._ops.reversal_statuses(str(r.payload.get("msgid", "")) for r in rows)
        return [
            replace(row, reversal=reversals.get(str(row.payload.get("msgid", "")))) for row in rows
        ]

    def job(self, job_id: int) -> JobRow | None:
        try:
            return _job(self._ops.jobs.get(job_id))
        except NotFound:
            return None

    def resend(self, job_id: int, payload: dict[str, Any] | None, note: str, actor: str) -> None:
        """Re-send a dead (or waiting) job, as ``POST /api/v1/queue/jobs/{id}/retry`` does:
        a job upstream *refused* gets a fresh ``msgid`` (upstream repeats its first reply
        per msgid; a refused write took no effect), one that died of time-outs keeps it."""
        self._ops.resend_job(job_id, actor=actor, payload=payload, note=note, via="web")

    def reverse(self, job_id: int, note: str, actor: str) -> int:
        """Queue the reversal (WI2601) of a dead job's write, as ``POST
        /api/v1/queue/jobs/{id}/reverse`` does; the reversal job's id."""
        return self._ops.reverse_job(job_id, actor=actor, note=note, via="web").job_id

    def withdraw(self, job_id: int, actor: str) -> int | None:
        """Withdraw a dead settlement upload upstream holds nothing of, with its settlement's
        revocation, as ``POST /api/v1/queue/jobs/{id}/withdraw`` does; the revocation's job
        id (None: it had none)."""
        return self._ops.withdraw_job(job_id, actor=actor, via="web").revocation_job

    def calls(self, limit: int = 50) -> list[CallRow]:
        return [
            CallRow(c.id, c.started_at, c.infno, c.msgid, c.context, c.duration_ms, c.outcome,
                    c.http_status, c.infcode, c.err_msg)
            for c in self._ops.calls.search(limit=limit)
        ]  # fmt: skip

    def hl7_messages(self, limit: int = 50) -> list[MessageRow] | None:
        hl7 = self._ops.hl7
        if hl7 is None:
            return None
        return [
            MessageRow(m.id, m.received_at, m.message_type, m.control_id, m.visit_number,
                       m.peer, m.ack_code, m.outcome, m.detail)
            for m in hl7.search(limit=limit)
        ]  # fmt: skip

    def history(self, now: datetime, hours: int = 24) -> list[HourPoint]:
        return [
            HourPoint(p.at, p.backlog, p.delivered, p.latency_p50_s, p.latency_max_s)
            for p in self._ops.jobs.hourly(now, hours)
        ]

    def clearing(self) -> list[AtRiskRow]:
        """Settlement uploads at risk of missing clearing (``monthly.clearing``)."""
        report = self._monthly.clearing.at_risk()
        return [
            AtRiskRow(**{name: item.as_dict()[name] for name in AtRiskRow.__dataclass_fields__})
            for item in report.items
        ]
