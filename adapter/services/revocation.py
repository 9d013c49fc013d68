"""Revoking a settlement (撤销结算, N§33, B§31): ``WI2305`` is queued behind the upload it
revokes — the same ordering key, the encounter — so a revocation never overtakes the
settlement it revokes. The encounter may then be settled again, or go to a manual claim.

A revocation of a settlement whose upload (WI2301, WI2701) upstream refused every time it was
sent has nothing to revoke: upstream holds no settlement from it. Queued behind that dead
upload, it would hold the stay's re-settlement back until IT re-sent the refused upload,
past the re-settlement's 30 minutes (N§33, B§32). So then the refused upload and the
revocation are both withdrawn — never sent, recorded with the reason in the queue, the audit
log and the ``upload_withdrawn`` log event — and the re-settlement goes at once. Whether the
refusal is certain is the queue's attempt history: every attempt answered by upstream's own
refusal (infcode ≠ 0). One attempt that may have reached upstream (a time-out, a transport
error, a 5xx, a gateway's 4xx, a lost lease) and upstream may hold the settlement: the
revocation is owed and waits behind the upload as before, which the audit entry and the
``revocation_held_back`` log event say, naming the upload IT must see to. The same check runs
when an upload dies refused after its settlement was revoked (:meth:`Revocations.after_refusal`,
the queue's ``on_refused`` hook).

IT may instead have upstream reverse the uncertain upload (WI2601,
:meth:`adapter.services.operations.Operations.reverse_job`). Once upstream acknowledged the
reversal (delivered), it certainly holds nothing of what was sent under that msgid: attempts
made under it count as refusals, and the upload and the revocation are withdrawn the same way
— when the reversal is delivered (:meth:`Revocations.after_reversal`, the queue's
``on_delivered`` hook of WI2601), when the settlement is revoked after it, or by IT's command
(:meth:`~adapter.services.operations.Operations.withdraw_job`, which also withdraws what a
hook that failed, or a refusal older than the withdrawal, left). A reversal pending or dead
counts for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import InvalidMessage, InvalidTransition
from adapter.domain.ports import Outbox, QueuedUpload, UploadWithdrawal
from adapter.domain.settlement import Settlement, SettlementStatus
from adapter.domain.upstream import Infno
from adapter.services import payloads
from adapter.services.context import ServiceContext
from adapter.services.locks import lock_encounter
from adapter.services.uploads import queue_upload, upload_for_settlement
from adapter.store.repositories import UploadRecord
from adapter.store.uow import UnitOfWork

log = logging.getLogger("adapter")

SETTLEMENT_UPLOADS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value)


class Revocations:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def revoke(
        self, settlement_id: str, *, reason: str, actor: str
    ) -> tuple[Settlement, QueuedUpload]:
        ctx = self._ctx
        if not reason.strip():
            raise InvalidMessage("撤销结算须填写原因", field="reason")
        with ctx.uow(immediate=True) as uow:
            settlement = uow.settlements.get(settlement_id)
            if settlement.status is not SettlementStatus.SETTLED:
                raise InvalidTransition(
                    f"结算{settlement_id}已撤销，不能重复撤销", code="SETTLEMENT_NOT_ACTIVE"
                )
            lock_encounter(uow, settlement.encounter.id)
            record = uow.encounters.get(settlement.encounter.id)
            revoked_encounter = record.encounter.moved_to(EncounterStatus.REVOKED)
            revoked = uow.settlements.revoke(settlement_id, at=ctx.now(), reason=reason)
            uow.encounters.update(revoked_encounter, expected_version=record.version)
            original = upload_for_settlement(
                uow, settlement_id, Infno.DISCHARGE
            ) or upload_for_settlement(uow, settlement_id, Infno.DEVICE_SETTLEMENT)
            # the msgid upstream holds the upload under: a re-send after a refusal changed it
            # (set again at delivery: the upload may still be refused and re-sent meanwhile)
            omsgid = ctx.outbox.sent_msgid(uow.session, original.msgid) if original else ""
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.SETTLEMENT_REVOKE,
                input=payloads.revoke_input(settlement, reason, omsgid),
                encounter_id=settlement.encounter.id,
                settlement_id=settlement_id,
                insuplc_admdvs=settlement.encounter.insured_admdvs,
                deadline=ctx.now() + ctx.policy.revocation_upload_within,
                revokes=original.msgid if original else "",
            )
            details: dict[str, Any] = {
                "settlement_id": settlement_id,
                "reason": reason,
                "msgid": upload.msgid,
            }
            found = None
            if original is not None:
                found = _withdraw_if_refused(ctx.outbox, uow, original, upload.msgid, upload.job_id)
                details.update(_audit_details(found, original))
            uow.audit.append(
                actor=actor,
                action="settlement.revoke",
                subject_type="encounter",
                subject_id=settlement.encounter.id,
                details=details,
            )
            if found is not None and original is not None and found.withdrawn:
                _audit_withdrawal(uow, actor, original, upload.job_id, settlement_id, found)
            uow.commit()
        if found is not None and original is not None:
            _log(found, original, upload.job_id, settlement_id)
        return revoked, upload

    def after_refusal(self, msgid: str, encounter_id: str) -> UploadWithdrawal | None:
        """The settlement upload queued as ``msgid`` went dead on upstream's refusal: if its
        settlement was revoked already, the revocation waiting behind it has nothing to
        revoke when every attempt was refused, and both are withdrawn (see the module)."""
        return self._after(encounter_id, lambda u: u.msgid == msgid, "upload_queue")

    def after_reversal(self, job_id: int, encounter_id: str) -> UploadWithdrawal | None:
        """Upstream acknowledged the reversal (WI2601) IT had queued of the dead upload job
        ``job_id``: what its uncertain attempts may have done is undone, so if its settlement
        was revoked the revocation has nothing left to revoke, and both are withdrawn (the
        queue's ``on_delivered`` hook of WI2601; ``wi-adapter queue withdraw`` when that did
        not run)."""
        return self._after(encounter_id, lambda u: u.job_id == job_id, "upload_queue")

    def _after(
        self, encounter_id: str, chosen: Callable[[UploadRecord], bool], actor: str
    ) -> UploadWithdrawal | None:
        ctx = self._ctx
        with ctx.uow(immediate=True) as uow:
            behind = withdraw_behind(ctx.outbox, uow, encounter_id, chosen, actor=actor)
            uow.commit()
        if behind is None:
            return None
        log_withdrawal(behind)
        return behind.found


@dataclass(frozen=True)
class Behind:
    """A dead settlement upload, the revocation queued behind it, and what withdrawing them
    found (:func:`withdraw_behind`)."""

    original: UploadRecord
    revocation: UploadRecord
    found: UploadWithdrawal


def revoked_upload(
    uow: UnitOfWork, encounter_id: str, chosen: Callable[[UploadRecord], bool]
) -> tuple[UploadRecord, UploadRecord | None] | None:
    """The stay's settlement upload (WI2301, WI2701) ``chosen`` picks, with the revocation
    (WI2305) queued for its settlement if it was revoked; None if no such upload."""
    original = next((u for u in uow.uploads.of_encounter(encounter_id) if chosen(u)), None)
    if original is None or original.infno not in SETTLEMENT_UPLOADS:
        return None
    if not original.settlement_id:
        return original, None
    revocation = uow.uploads.latest(
        Infno.SETTLEMENT_REVOKE.value, settlement_id=original.settlement_id
    )
    return original, revocation


def withdraw_behind(
    outbox: Outbox,
    uow: UnitOfWork,
    encounter_id: str,
    chosen: Callable[[UploadRecord], bool],
    *,
    actor: str,
    via: str = "",
) -> Behind | None:
    """Under the stay's lock, in ``uow``: withdraw the dead settlement upload ``chosen`` picks
    and the revocation queued behind it when upstream certainly holds nothing of it (every
    attempt refused, or reversed since), audited; None when there is no such upload or its
    settlement was not revoked (IT corrects the upload and re-sends it). The caller commits,
    then logs (:func:`log_withdrawal`)."""
    lock_encounter(uow, encounter_id)
    original, revocation = revoked_upload(uow, encounter_id, chosen) or (None, None)
    if original is None or revocation is None:
        return None
    found = _withdraw_if_refused(outbox, uow, original, revocation.msgid, revocation.job_id)
    if found.withdrawn:
        _audit_withdrawal(
            uow, actor, original, revocation.job_id, original.settlement_id, found, via
        )
    return Behind(original, revocation, found)


def log_withdrawal(behind: Behind) -> None:
    """The log event of :func:`withdraw_behind`'s outcome, once committed."""
    _log(behind.found, behind.original, behind.revocation.job_id, behind.original.settlement_id)


def _withdraw_if_refused(
    outbox: Outbox, uow: UnitOfWork, original: UploadRecord, revocation: str, job_id: int
) -> UploadWithdrawal:
    def reason(certainty: str) -> str:
        if certainty == "undone":
            why = (
                "发送结果不确定的交易已由冲正（WI2601）撤销并经上级系统确认，其余发送均被上级"
                "系统拒绝"
            )
        else:
            why = "每次发送均被上级系统拒绝"
        return (
            f"结算上传（{original.infno}，上传任务{original.job_id}）{why}，上级系统没有这次"
            f"结算；结算已撤销，撤销结算（WI2305，上传任务{job_id}）无需上传：两者均已撤回、"
            "不再发送，同一就诊之后的上传照常发送（N§33、B§32）"
        )

    return outbox.withdraw_refused(uow.session, original.msgid, [revocation], reason=reason)


def _audit_details(found: UploadWithdrawal, original: UploadRecord) -> dict[str, Any]:
    if found.withdrawn:
        return {"withdrawn_job_ids": [original.job_id], "revocation_sent": False}
    if found.certainty == "uncertain":
        return {
            "revocation_waits_for": original.job_id,
            "why": (
                f"结算上传（上传任务{original.job_id}）有{found.uncertain}次发送结果不确定"
                "（超时、连接中断、上级系统故障等，未得到上级系统明确的拒绝答复），"
                "上级系统可能已有这次结算：撤销须先送达，请信息科处理该上传任务"
                "（原样重发，或冲正原交易 WI2601：冲正送达后两者自动撤回）"
            ),
        }
    return {}


def _audit_withdrawal(
    uow: UnitOfWork,
    actor: str,
    original: UploadRecord,
    revocation_job: int,
    settlement_id: str,
    found: UploadWithdrawal,
    via: str = "",
) -> None:
    details: dict[str, Any] = {
        "settlement_id": settlement_id,
        "infno": original.infno,
        "msgid": original.msgid,
        "revocation_job": revocation_job,
        "why": "every attempt refused by upstream: it holds no settlement to revoke",
    }
    if found.certainty == "undone":
        details["why"] = (
            "every attempt refused by upstream, or reversed by a WI2601 upstream acknowledged "
            f"({found.reversed} reversed): it holds no settlement to revoke"
        )
    if via:
        details["via"] = via  # IT's command, after the fact
    uow.audit.append(
        actor=actor,
        action="upload.withdraw",
        subject_type="upload_job",
        subject_id=str(original.job_id),
        details=details,
    )


def _log(
    found: UploadWithdrawal,
    original: UploadRecord,
    revocation_job: int,
    settlement_id: str,
) -> None:
    fields = {
        "encounter": original.encounter_id,
        "settlement_id": settlement_id,
        "job_id": original.job_id,
        "kind": original.infno,
        "msgid": original.msgid,
        "revocation_job": revocation_job,
        "attempts": found.attempts,
        "certainty": found.certainty,
        "reversed_attempts": found.reversed,
    }
    if found.withdrawn:
        log.warning(
            "upload_withdrawn job_id=%s revocation_job=%s",
            original.job_id,
            revocation_job,
            extra={"event": "upload_withdrawn", **fields},
        )
    elif found.certainty == "uncertain":
        log.error(
            "revocation_held_back revocation_job=%s held_back_by=%s uncertain_attempts=%s",
            revocation_job,
            original.job_id,
            found.uncertain,
            extra={"event": "revocation_held_back", **fields, "held_back_by": original.job_id,
                   "uncertain_attempts": found.uncertain},
        )  # fmt: skip
