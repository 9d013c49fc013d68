"""IT's operator actions, each audited: re-send an upload job, have a dead job's write reversed
upstream, withdraw a dead settlement upload upstream holds nothing of, re-send a logged read,
process a stored HL7 message again.

REST (``/api/v1/queue``, ``/api/v1/upstream``, ``/api/v1/hl7``), the IT monitor page and the
``wi-adapter queue retry`` command all come here, so a re-send does the same on every face.
The upload queue, the call log and the HL7 log are reached through ports
(:mod:`adapter.domain.ports`) the composition root implements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from adapter.domain.errors import DomainError, InvalidTransition
from adapter.domain.masking import restore_masked
from adapter.domain.ports import (
    Hl7Messages,
    MsgidSource,
    Outbox,
    QueuedUpload,
    UploadJob,
    UploadJobs,
    UpstreamCalls,
)
from adapter.domain.upstream import UPLOAD_STATUS_LABELS, Infno
from adapter.services.payloads import job_payload
from adapter.services.revocation import (
    SETTLEMENT_UPLOADS,
    Behind,
    log_withdrawal,
    revoked_upload,
    withdraw_behind,
)
from adapter.store.uow import UnitOfWork

REVERSAL_WITHIN = timedelta(minutes=30)
"""A reversal's deadline: the dead job it undoes already holds up its stay's uploads."""


def reversal_key(msgid: str) -> str:
    """The idempotency key of the reversal (WI2601) of the write sent as ``msgid``: one per
    msgid, so a second request finds the first, and the queue's delivery ledger remembers it
    after the job itself is purged."""
    return f"reversal:{msgid}"


@dataclass(frozen=True)
class Withdrawn:
    """A dead settlement upload withdrawn with its settlement's revocation (or found so:
    ``already``), by :meth:`Operations.withdraw_job`."""

    job_id: int
    revocation_job: int | None
    already: bool


@dataclass
class Operations:
    engine: Engine
    jobs: UploadJobs
    msgids: MsgidSource
    calls: UpstreamCalls
    hl7: Hl7Messages | None = None
    outbox: Outbox | None = None  # a reversal is queued like every other write
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def audit(self, *, actor: str, action: str, **entry: Any) -> None:
        """One audit entry in its own transaction, for an operator action."""
        with UnitOfWork(self.engine) as uow:
            uow.audit.append(actor=actor, action=action, role="it", **entry)
            uow.commit()

    def resend_job(
        self,
        job_id: int,
        *,
        actor: str,
        payload: dict[str, Any] | None = None,
        note: str = "",
        via: str = "api",
    ) -> UploadJob:
        """Re-send a dead (or waiting) upload job, audited, and wake the workers.

        A job upstream *refused* (its last attempt ``permanent``, infcode -1) gets a fresh
        ``msgid``, corrected or not: upstream answers a repeated msgid with its first reply,
        so it would be refused again however corrected, and a refused write took no effect.
        Any other job keeps its msgid — after a time-out upstream may have committed it — and
        so keeps its content too: a corrected payload under that msgid would be recorded here
        as delivered while upstream keeps the first content. It is refused
        (``JOB_MAY_HAVE_TAKEN_EFFECT``) unless no attempt was ever made; re-send it unchanged,
        or have the earlier write reversed upstream first (:meth:`reverse_job`, WI2601).

        A job whose write upstream has reversed (its reversal delivered) goes under a fresh
        ``msgid``, corrected or not: under the reversed one upstream would answer with its
        first reply and the write would stay undone. Until the reversal is delivered the job
        is not re-sent (``JOB_REVERSAL_PENDING``): the two would race upstream.
        """
        stored = self.jobs.get(job_id)
        # IT's lists show payloads masked: a mask sent back unchanged keeps the stored value
        sent = restore_masked(payload, stored.payload) if payload is not None else None
        outcomes = list(self.jobs.outcomes(job_id))
        reversal = self.reversal_status(str(stored.payload.get("msgid", "")))
        if reversal is not None and reversal != "delivered":
            raise _reversal_pending(stored, reversal)
        if reversal == "delivered":
            sent = dict(sent if sent is not None else stored.payload)
            sent["reversed_msgids"] = [*sent.get("reversed_msgids", []), sent.get("msgid", "")]
            sent["msgid"] = self.msgids.next()
        elif outcomes and outcomes[-1] == "permanent":
            sent = dict(sent if sent is not None else stored.payload)
            sent["refused_msgids"] = [*sent.get("refused_msgids", []), sent.get("msgid", "")]
            sent["msgid"] = self.msgids.next()
        elif outcomes and sent is not None and sent != dict(stored.payload):
            raise _may_have_taken_effect(stored)
        # checked again under the job's lock: an attempt made since this look is refused
        job = self.jobs.retry(job_id, payload=sent, note=note or None, seen_attempts=len(outcomes))
        self.audit(
            actor=actor,
            action="queue.retry",
            subject_type="upload_job",
            subject_id=str(job_id),
            details={"payload_corrected": payload is not None, "note": note, "via": via},
        )
        self.jobs.wake()
        return job

    def reverse_job(
        self, job_id: int, *, actor: str, note: str = "", via: str = "api"
    ) -> QueuedUpload:
        """Have upstream reverse (WI2601) the write a dead job may have made, so that it can
        be corrected: queued like every write (durable, retried under its own msgid), audited.

        Only a dead job is reversed, and only one whose last attempt may have reached
        upstream (time-outs, lost replies): one never sent, or refused (a refused write took
        no effect), is corrected by a re-send; a delivered settlement is undone by revoking
        it (WI2305), which also settles the adapter's own records. Once the reversal is
        delivered, :meth:`resend_job` sends the job, corrected or not, under a fresh msgid.
        """
        if self.outbox is None:
            raise DomainError("本实例未接入上传队列，不能冲正", code="QUEUE_UNAVAILABLE")
        job = self.jobs.get(job_id)
        msgid = str(job.payload.get("msgid", ""))
        if job.kind == Infno.REVERSAL.value:
            raise InvalidTransition(
                f"上传任务 {job_id} 本身是冲正交易（WI2601），不能再冲正；请重发它",
                code="JOB_IS_REVERSAL",
            )
        if job.status != "dead":
            label = UPLOAD_STATUS_LABELS.get(job.status, job.status)
            raise InvalidTransition(
                f"上传任务 {job_id} 当前状态为“{label}”："
                "只能冲正上传失败的任务。"
                "已送达的结算请撤销结算（WI2305）；等待中的任务请等其送达或失败",
                code="JOB_NOT_REVERSIBLE",
            )
        outcomes = list(self.jobs.outcomes(job_id))
        if not outcomes or outcomes[-1] == "permanent":
            why = "从未发送" if not outcomes else "已被上级系统拒绝（未生效）"
            raise InvalidTransition(
                f"上传任务 {job_id} {why}，上级系统没有可冲正的交易：请直接更正后重发",
                code="JOB_NOTHING_TO_REVERSE",
            )
        key = reversal_key(msgid)
        with UnitOfWork(self.engine) as uow:
            if self.outbox.job_state(uow.session, key) is not None:
                raise InvalidTransition(
                    f"上传任务 {job_id}（msgid {msgid}）已申请过冲正，请在上传队列中查看该冲正任务",
                    code="JOB_REVERSAL_EXISTS",
                )
            payload = job_payload(
                Infno.REVERSAL,
                self.msgids.next(),
                {"omsgid": msgid, "oinfno": job.kind},
                insuplc_admdvs=str(job.payload.get("insuplc_admdvs", "")),
                context=str(job.payload.get("context", "")),
            )
            payload["reverses_job"] = job_id
            queued = self.outbox.enqueue(
                uow.session,
                kind=Infno.REVERSAL.value,
                payload=payload,
                idempotency_key=key,
                ordering_key=key,  # not the stay's: its dead job would hold the reversal back
                deadline=self.now() + REVERSAL_WITHIN,
            )
            uow.audit.append(
                actor=actor,
                action="queue.reverse",
                role="it",
                subject_type="upload_job",
                subject_id=str(job_id),
                details={"omsgid": msgid, "oinfno": job.kind, "reversal_job": queued.job_id,
                         "note": note, "via": via},
            )  # fmt: skip
            uow.commit()
        self.jobs.wake()
        return queued

    def withdraw_job(self, job_id: int, *, actor: str, via: str = "api") -> Withdrawn:
        """Withdraw a dead settlement upload (WI2301, WI2701) whose settlement was revoked,
        with the revocation (WI2305) queued behind it, when upstream certainly holds nothing
        of it: every attempt refused, or made under a msgid whose reversal (WI2601) upstream
        acknowledged. What the automatic path (:mod:`adapter.services.revocation`) does, for
        a refusal older than it or one whose hook failed: the same check under the stay's and
        the job's locks, the same audit entry and log event. Anything else is refused, with
        why and what to do instead, and nothing changes; a job withdrawn already is answered
        with what was done (``already``)."""
        if self.outbox is None:
            raise DomainError("本实例未接入上传队列，不能撤回", code="QUEUE_UNAVAILABLE")
        job = self.jobs.get(job_id)
        if job.kind not in SETTLEMENT_UPLOADS:
            raise InvalidTransition(
                f"上传任务 {job_id} 是 {job.kind}，不是结算上传（WI2301、WI2701）：只能撤回"
                "结算已撤销、每次发送均被上级系统拒绝的结算上传（其撤销结算随之撤回）",
                code="JOB_NOT_WITHDRAWABLE",
            )
        encounter = job.ordering_key or str(job.payload.get("context", ""))
        if job.status == "withdrawn":
            return self._withdrawn_already(job_id, encounter)
        if job.status != "dead":
            label = UPLOAD_STATUS_LABELS.get(job.status, job.status)
            raise InvalidTransition(
                f"上传任务 {job_id} 当前状态为“{label}”：只能撤回上传失败的结算上传",
                code="JOB_NOT_WITHDRAWABLE",
            )
        with UnitOfWork(self.engine, immediate=True) as uow:
            behind = withdraw_behind(
                self.outbox, uow, encounter, lambda u: u.job_id == job_id, actor=actor, via=via
            )
            uow.commit()
        if behind is None:
            raise _not_revoked(job)
        if behind.found.withdrawn:
            log_withdrawal(behind)
            self.jobs.wake()  # the stay's later uploads go now
            return Withdrawn(job_id, behind.revocation.job_id, already=False)
        if self.jobs.get(job_id).status == "withdrawn":  # the automatic path was first
            return self._withdrawn_already(job_id, encounter)
        raise self._not_withdrawn(job, behind)

    def _withdrawn_already(self, job_id: int, encounter: str) -> Withdrawn:
        with UnitOfWork(self.engine) as uow:
            pair = revoked_upload(uow, encounter, lambda u: u.job_id == job_id)
        revocation = pair[1] if pair is not None else None
        return Withdrawn(job_id, revocation.job_id if revocation else None, already=True)

    def _not_withdrawn(self, job: UploadJob, behind: Behind) -> InvalidTransition:
        found, revocation = behind.found, behind.revocation
        head = f"上传任务 {job.id}（{job.kind}）"
        if found.certainty == "not_dead":  # re-sent meanwhile
            state = self.jobs.get(job.id).status
            return InvalidTransition(
                f"{head}当前状态为“{UPLOAD_STATUS_LABELS.get(state, state)}”："
                "只能撤回上传失败的结算上传",
                code="JOB_NOT_WITHDRAWABLE",
            )
        if found.certainty == "never_sent":
            return InvalidTransition(
                f"{head}从未发送到上级系统，未得到上级系统的拒绝答复，不能撤回：请重发该任务"
                "（再被上级系统拒绝时，将与撤销结算一并自动撤回）",
                code="JOB_NEVER_SENT",
            )
        if found.certainty == "uncertain":
            msgid = str(job.payload.get("msgid", ""))
            reversal = self.reversal_status(msgid)
            if reversal in ("pending", "in_flight"):
                then = "其冲正（WI2601）尚未送达：送达后将自动撤回，届时也可再撤回"
            elif reversal == "dead":
                then = "其冲正（WI2601）上传失败：请先重发冲正任务，送达后将自动撤回"
            elif reversal == "delivered":
                then = (
                    f"已冲正的只是报文ID {msgid} 的交易，此前以其他报文ID发送的结果仍不确定："
                    "请原样重发，使撤销结算随后送达"
                )
            else:
                then = (
                    "请先冲正原交易（WI2601），冲正送达后将自动撤回；或原样重发，使撤销结算随后送达"
                )
            return InvalidTransition(
                f"{head}有{found.uncertain}次发送结果不确定（超时、连接中断、上级系统故障等），"
                f"上级系统可能已有这次结算，不能撤回：{then}",
                code="JOB_MAY_HOLD_SETTLEMENT",
            )
        state = self.jobs.get(revocation.job_id).status
        label = UPLOAD_STATUS_LABELS.get(state, state)
        return InvalidTransition(
            f"{head}的撤销结算（WI2305，上传任务 {revocation.job_id}）当前状态为“{label}”，"
            "可能已到达上级系统，不能撤回",
            code="JOB_REVOCATION_UNDER_WAY",
        )

    def reversal_status(self, msgid: str) -> str | None:
        """The status of the reversal of the write sent as ``msgid``, if one was queued
        (``delivered`` also once the job is purged: the delivery ledger remembers)."""
        return self.reversal_statuses([msgid]).get(msgid)

    def reversal_statuses(self, msgids: Iterable[str]) -> dict[str, str]:
        """:meth:`reversal_status` of each of ``msgids`` whose write has a reversal queued."""
        if self.outbox is None:
            return {}
        keys = {reversal_key(m): m for m in msgids if m}
        with UnitOfWork(self.engine) as uow:
            states = self.outbox.job_states(uow.session, keys)
        return {keys[key]: state[0] for key, state in states.items()}

    def resend_call(
        self, call_id: int, *, actor: str, overrides: dict[str, Any] | None = None
    ) -> Any:
        """Re-send a logged read (writes go again from the upload queue); upstream's output."""
        output = self.calls.resend(call_id, overrides=overrides)
        self.audit(
            actor=actor,
            action="upstream.resend",
            subject_type="upstream_call",
            subject_id=str(call_id),
            details={},
        )
        return output

    def hl7_log(self) -> Hl7Messages:
        if self.hl7 is None:
            raise DomainError("本实例未启用 HL7 接口（hl7.enabled = false）", code="HL7_DISABLED")
        return self.hl7

    def reprocess_hl7(self, message_id: int, *, actor: str) -> Any:
        """Process a stored HL7 message again (after a fix); its history is kept."""
        message = self.hl7_log().reprocess(message_id, actor=actor)
        self.audit(
            actor=actor,
            action="hl7.reprocess",
            subject_type="hl7_message",
            subject_id=str(message_id),
            details={"ack_code": message.ack_code or "", "outcome": message.outcome or ""},
        )
        return message


def _reversal_pending(job: UploadJob, status: str) -> InvalidTransition:
    msgid = str(job.payload.get("msgid", ""))
    return InvalidTransition(
        f"上传任务 {job.id} 的原交易（msgid {msgid}）正在冲正（冲正任务状态 {status}）："
        "冲正送达后才能重发，重发将使用新的 msgid",
        code="JOB_REVERSAL_PENDING",
    )


def _not_revoked(job: UploadJob) -> InvalidTransition:
    return InvalidTransition(
        f"上传任务 {job.id}（{job.kind}）的结算没有撤销（没有为它排队的撤销结算 WI2305）："
        "上级系统仍须收到这次结算，不能撤回；请更正后重发",
        code="JOB_NOT_REVOKED",
    )


def _may_have_taken_effect(job: UploadJob) -> InvalidTransition:
    msgid = str(job.payload.get("msgid", ""))
    return InvalidTransition(
        f"上传任务 {job.id}（{job.kind}）此前已以 msgid {msgid} 发送，上级系统可能已经生效"
        "（回复未收到），同一 msgid 下上级只认第一次的内容，不能改内容重发：请原样重发；"
        f"如须更正，先冲正原交易（WI2601，omsgid {msgid}，oinfno {job.kind}），"
        "冲正送达后再改内容重发",
        code="JOB_MAY_HAVE_TAKEN_EFFECT",
        field="payload",
    )
