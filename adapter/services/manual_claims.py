"""Manual claims (手工报销): when a stay cannot be settled directly (N§38, B§27).

The network, the system or the card fails; the costs go back to the insured place, which
reimburses them by hand. The adapter records why, produces the itemised fee list the worker
takes there (the proof the insured place's review needs, B§50, B§53), and moves the encounter
to ``manual_claim`` — final: it can never be settled directly afterwards, so nothing is
reimbursed twice. An admission registered upstream is
revoked (``WI2404``, queued) so upstream, too, knows no direct settlement will follow.

Reasons: ``upstream_unavailable`` is accepted only after upstream has been unreachable for
``Policy.manual_claim_wait`` (the adapter probes it; a blip is waited out, not turned into
paperwork); ``card_failure`` and ``system_failure`` need a description of what failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import DomainError, InvalidMessage, NotFound, UpstreamUnavailable
from adapter.domain.people import mask_citizen_id
from adapter.domain.settlement import Breakdown
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.billing import PricedFees, price_encounter
from adapter.services.context import ServiceContext
from adapter.services.identity import Identity
from adapter.services.locks import lock_encounter
from adapter.services.tables import manual_claim, service_upload
from adapter.services.uploads import queue_upload
from adapter.services.watch import UpstreamWatch
from adapter.store.uow import UnitOfWork

ARTICLE = "N§38, B§27"
NOTE = (
    "本次费用未能跨省异地直接结算，已转参保地经办机构手工报销；"
    "本机构不再对该次就诊办理直接结算，杜绝重复报销（N§38、B§27）。"
    "住院伙食补助费、转诊交通食宿费由参保地按规定报销（N§3、B§30）。"
)


class ManualClaimReason(StrEnum):
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # 网络或上级系统中断
    CARD_FAILURE = "card_failure"  # 社会保障卡故障
    SYSTEM_FAILURE = "system_failure"  # 本机构系统故障

    @property
    def label(self) -> str:
        return {
            "upstream_unavailable": "网络或上级系统中断",
            "card_failure": "社会保障卡故障",
            "system_failure": "本机构系统故障",
        }[self.value]


@dataclass(frozen=True)
class ManualClaim:
    id: str
    encounter_id: str
    reason: ManualClaimReason
    detail: str
    fee_list: dict[str, Any]
    created_at: datetime
    created_by: str


def fee_list(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> dict[str, Any]:
    """The itemised list for the insured place: every line, as it would have been priced."""
    encounter = uow.encounters.get(encounter_id).encounter
    person = uow.persons.get(encounter.psn_no)
    fees: PricedFees = price_encounter(ctx, uow, encounter_id)
    totals = Breakdown.of(fees.bill.lines, fees.bill.excluded)
    return {
        "institution": payloads.medinsinfo(ctx),
        "worker": {
            "psn_no": encounter.psn_no,
            "name": person.name if person else "",
            "citizen_id": mask_citizen_id(person.citizen_id) if person else "",
            "insured_admdvs": encounter.insured_admdvs,
        },
        "encounter": {
            "id": encounter.id,
            "kind": encounter.kind.value,
            "his_visit_id": encounter.his_visit_id,
            "filing_no": encounter.filing_no,
            "admitted_at": ctx.wall_time(encounter.admitted_at),
            "discharged_at": ctx.wall_time(encounter.discharged_at)
            if encounter.discharged_at
            else "",
            "diagnoses": list(encounter.diagnoses),
        },
        "lines": payloads.feedetail(ctx, fees.bill.lines),
        "excluded": [
            {
                "feedetl_sn": line.line_id,
                "item_name": line.item_name,
                "category": line.category.value,
                "amount": payloads.money(line.amount),
            }
            for line in fees.bill.excluded
        ],
        "unmapped": [s.line.line_id for s in fees.unmapped],
        **payloads.settlement_totals(totals),
        "note": NOTE,
    }


class ManualClaims:
    def __init__(self, ctx: ServiceContext, identity: Identity, watch: UpstreamWatch):
        self._ctx = ctx
        self._identity = identity
        self._watch = watch

    def _check_outage(self) -> None:
        ctx = self._ctx
        try:
            ctx.gateway.institution_status(ctx.institution.code)
        except UpstreamUnavailable:
            self._watch.failed(ctx.now())
        else:
            self._watch.succeeded()
            raise DomainError(
                "上级系统当前可以正常访问，请直接结算，不能以系统中断为由转手工报销（N§38）",
                code="MANUAL_CLAIM_UPSTREAM_UP",
                article=ARTICLE,
            )
        since = self._watch.down_since or ctx.now()
        wait = ctx.policy.manual_claim_wait
        if ctx.now() - since < wait:
            minutes = int(wait.total_seconds() // 60)
            raise DomainError(
                f"上级系统自{ctx.wall_time(since)}起无法访问，未满{minutes}分钟；"
                "请稍候重试直接结算，超过等待时间仍无法恢复的再转手工报销（N§38、B§27）",
                code="MANUAL_CLAIM_TOO_EARLY",
                article=ARTICLE,
            )

    def create(
        self, encounter_id: str, reason: ManualClaimReason, detail: str, *, actor: str
    ) -> ManualClaim:
        ctx = self._ctx
        if reason is not ManualClaimReason.UPSTREAM_UNAVAILABLE and not detail.strip():
            raise InvalidMessage(f"{reason.label}须说明具体情况", field="detail")
        with ctx.uow() as uow:
            uow.encounters.get(encounter_id).encounter.moved_to(EncounterStatus.MANUAL_CLAIM)
        if reason is ManualClaimReason.UPSTREAM_UNAVAILABLE:
            self._check_outage()
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            encounter = record.encounter
            claimed = encounter.moved_to(EncounterStatus.MANUAL_CLAIM)
            listing = fee_list(ctx, uow, encounter_id)
            claim = ManualClaim(
                ids.manual_claim_id(), encounter_id, reason, detail, listing, ctx.now(), actor
            )
            uow.session.execute(
                manual_claim.insert().values(
                    id=claim.id,
                    encounter_id=encounter_id,
                    reason=reason.value,
                    detail=detail,
                    fee_list=listing,
                    created_at=claim.created_at,
                    created_by=actor,
                )
            )
            uow.encounters.update(claimed, expected_version=record.version)
            msgid = ""
            if encounter.kind is not EncounterKind.DEVICE and _registered(uow, encounter_id):
                msgid = queue_upload(
                    ctx,
                    uow,
                    infno=Infno.ADMISSION_REVOKE,
                    input=payloads.admission_revoke_input(encounter, f"转手工报销：{reason.label}"),
                    encounter_id=encounter_id,
                    insuplc_admdvs=encounter.insured_admdvs,
                    deadline=ctx.now() + ctx.policy.admission_upload_within,
                ).msgid
            uow.audit.append(
                actor=actor,
                action="manual_claim.create",
                subject_type="encounter",
                subject_id=encounter_id,
                details={
                    "claim_id": claim.id,
                    "reason": reason.value,
                    "detail": detail,
                    "total": listing["medfee_sumamt"],
                    "msgid": msgid,
                },
            )
            uow.commit()
        return claim

    def get(self, claim_id: str) -> ManualClaim:
        with self._ctx.uow() as uow:
            row = uow.session.execute(
                select(manual_claim).where(manual_claim.c.id == claim_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"手工报销记录{claim_id}不存在", code="MANUAL_CLAIM_NOT_FOUND")
        return ManualClaim(
            row.id,
            row.encounter_id,
            ManualClaimReason(row.reason),
            row.detail,
            row.fee_list,
            row.created_at,
            row.created_by,
        )


def _registered(uow: UnitOfWork, encounter_id: str) -> bool:
    """An admission registration (WI2401) was queued, and not already revoked (WI2404)."""
    infnos = set(
        uow.session.execute(
            select(service_upload.c.infno).where(service_upload.c.encounter_id == encounter_id)
        ).scalars()
    )
    return Infno.ADMISSION.value in infnos and Infno.ADMISSION_REVOKE.value not in infnos
