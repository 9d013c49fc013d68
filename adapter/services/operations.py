"""IT's operator actions, each audited: re-send an upload job, re-send a logged read, process
a stored HL7 message again.

REST (``/api/v1/queue``, ``/api/v1/upstream``, ``/api/v1/hl7``), the IT monitor page and the
``wi-adapter queue retry`` command all come here, so a re-send does the same on every face.
The upload queue, the call log and the HL7 log are reached through ports
(:mod:`adapter.domain.ports`) the composition root implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from adapter.domain.errors import DomainError, InvalidTransition
from adapter.domain.masking import restore_masked
from adapter.domain.ports import Hl7Messages, MsgidSource, UploadJob, UploadJobs, UpstreamCalls
from adapter.store.uow import UnitOfWork


@dataclass
class Operations:
    engine: Engine
    jobs: UploadJobs
    msgids: MsgidSource
    calls: UpstreamCalls
    hl7: Hl7Messages | None = None

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
        or have the earlier write reversed upstream first (WI2601, naming it as ``omsgid``).
        """
        stored = self.jobs.get(job_id)
        # IT's lists show payloads masked: a mask sent back unchanged keeps the stored value
        sent = restore_masked(payload, stored.payload) if payload is not None else None
        outcomes = list(self.jobs.outcomes(job_id))
        if outcomes and outcomes[-1] == "permanent":
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


def _may_have_taken_effect(job: UploadJob) -> InvalidTransition:
    msgid = str(job.payload.get("msgid", ""))
    return InvalidTransition(
        f"上传任务 {job.id}（{job.kind}）此前已以 msgid {msgid} 发送，上级系统可能已经生效"
        "（回复未收到），同一 msgid 下上级只认第一次的内容，不能改内容重发：请原样重发；"
        f"如须更正，先以冲正交易 WI2601（omsgid {msgid}，oinfno {job.kind}）冲正原交易",
        code="JOB_MAY_HAVE_TAKEN_EFFECT",
        field="payload",
    )
