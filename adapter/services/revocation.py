"""Revoking a settlement (撤销结算, N§33, B§31): ``WI2305`` is queued behind the upload it
revokes — the same ordering key, the encounter — so a revocation never overtakes the
settlement it revokes. The encounter may then be settled again, or go to a manual claim.
"""

from __future__ import annotations

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import InvalidMessage, InvalidTransition
from adapter.domain.ports import QueuedUpload
from adapter.domain.settlement import Settlement, SettlementStatus
from adapter.domain.upstream import Infno
from adapter.services import payloads
from adapter.services.context import ServiceContext
from adapter.services.locks import lock_encounter
from adapter.services.uploads import queue_upload, upload_for_settlement


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
            uow.audit.append(
                actor=actor,
                action="settlement.revoke",
                subject_type="encounter",
                subject_id=settlement.encounter.id,
                details={"settlement_id": settlement_id, "reason": reason, "msgid": upload.msgid},
            )
            uow.commit()
        return revoked, upload
