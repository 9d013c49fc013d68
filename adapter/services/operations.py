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

from adapter.domain.errors import DomainError
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

        A job upstream *refused* (infcode -1) gets a fresh ``msgid``: upstream answers a
        repeated msgid with its first reply, so it would be refused again however corrected,
        and a refused write took no effect. A job that died of time-outs keeps its msgid:
        upstream may have committed it.
        """
        stored = self.jobs.get(job_id)
        # IT's lists show payloads masked: a mask sent back unchanged keeps the stored value
        sent = restore_masked(payload, stored.payload) if payload is not None else None
        if self.jobs.last_outcome(job_id) == "permanent":
            sent = dict(sent if sent is not None else stored.payload)
            sent["refused_msgids"] = [*sent.get("refused_msgids", []), sent.get("msgid", "")]
            sent["msgid"] = self.msgids.next()
        job = self.jobs.retry(job_id, payload=sent, note=note or None)
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
