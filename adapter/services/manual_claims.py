"""Manual claims (手工报销): when a stay cannot be settled directly (N§38, B§27).

The network, the system or the card fails; the costs go back to the insured place, which
reimburses them by hand. The adapter records why, produces the itemised fee list the worker
takes there (the proof the insured place's review needs, B§50, B§53; built by
:mod:`.manual_claim_fee_list`), and moves the encounter to ``manual_claim`` — final: it can
never be settled directly afterwards, so nothing is reimbursed twice. An admission registered
upstream is revoked (``WI2404``, queued) so upstream, too, knows no direct settlement will
follow.

A **case from the start** (N§38, B§27): upstream was down at admission and the desk chose to
record the stay as a manual claim (:meth:`Admissions.admit` with
``manual_claim_if_upstream_down``). Its fees are recorded as usual; :meth:`ManualClaims.hand_over`
hands the fee list (marked 手工报销) to the worker and makes it final; before that,
:meth:`ManualClaims.switch_to_direct` turns it into a direct-settlement stay once identity and
filing pass (WI2401 queued then).

**After a revocation** a manual claim waits until upstream acknowledged the revocation (WI2305
delivered): until then the direct settlement may still stand upstream (N§38 杜绝重复报销, B§27);
:mod:`.unacknowledged_revocation` holds that check and its refusal.

Reasons: ``upstream_unavailable`` is accepted only after upstream has been unreachable for
``Policy.manual_claim_wait`` (the adapter probes it; a blip is waited out, not turned into
paperwork); ``card_failure`` and ``system_failure`` need a description of what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from adapter.domain.eligibility_request import Stage
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import (
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    InvalidTransition,
    UpstreamUnavailable,
)
from adapter.domain.filings import filed_part_for, listed_parts
from adapter.domain.people import CardData
from adapter.domain.settlement import Settlement
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.admission import queue_admission
from adapter.services.context import ServiceContext
from adapter.services.device_outage import refuse_after_direct_fitting
from adapter.services.eligibility import decide
from adapter.services.identity import Identity, cache
from adapter.services.locks import lock_encounter
from adapter.services.manual_claim_fee_list import fee_list
from adapter.services.manual_claim_records import (
    ManualClaim,
    ManualClaimReason,
    load_claim,
    open_case,
    stored_claim,
)
from adapter.services.unacknowledged_revocation import refuse_unacknowledged_revocation
from adapter.services.uploads import queue_upload
from adapter.services.watch import UpstreamWatch
from adapter.store.uow import UnitOfWork

ARTICLE = "N§38, B§27"


class SettledFitting(Protocol):
    """What the device counter's switch returns (its ``Fitted``), named by shape: the device
    counter imports this module, so this one cannot import it back."""

    @property
    def settlement(self) -> Settlement: ...


class DeviceSwitch(Protocol):
    def __call__(self, claim_id: str, card: CardData, *, actor: str) -> SettledFitting: ...


class ManualClaims:
    def __init__(self, ctx: ServiceContext, identity: Identity, watch: UpstreamWatch):
        self._ctx = ctx
        self._identity = identity
        self._watch = watch
        # A fitting's case switches through the device counter (device_claims), set by the
        # container: it is checked and settled as a fitting, not registered as a stay.
        self.device_switch: DeviceSwitch | None = None

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
            case_id = open_case(uow, encounter_id)
        if case_id:  # a case from the start: what is left is handing its list over
            return self.hand_over(case_id, actor=actor)
        with ctx.uow() as uow:
            encounter = uow.encounters.get(encounter_id).encounter
            encounter.moved_to(EncounterStatus.MANUAL_CLAIM)
            refuse_unacknowledged_revocation(ctx, uow, encounter)
        if reason is ManualClaimReason.UPSTREAM_UNAVAILABLE:
            self._check_outage()
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter_id)
            record = uow.encounters.get(encounter_id)
            encounter = record.encounter
            claimed = encounter.moved_to(EncounterStatus.MANUAL_CLAIM)
            refuse_unacknowledged_revocation(ctx, uow, encounter)
            uow.settle_waits.forget(encounter_id)
            listing = fee_list(ctx, uow, encounter_id)
            fitting = listing.get("fitting")
            if isinstance(fitting, dict):  # a revoked fitting: its items, paid since directly?
                refuse_after_direct_fitting(
                    ctx,
                    uow,
                    encounter.psn_no,
                    str(fitting["approval_notice_no"]),
                    {str(i["device_code"]) for i in fitting["items"]},
                    field="encounter_id",
                )
            claim = ManualClaim(
                ids.manual_claim_id(), encounter_id, reason, detail, listing, ctx.now(), actor
            )
            uow.manual_claims.add(stored_claim(claim))
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
            return load_claim(uow, claim_id)

    def of_encounter(self, encounter_id: str) -> ManualClaim | None:
        """The encounter's manual claim (or manual-claim case from the start), if any."""
        with self._ctx.uow() as uow:
            claim_id = uow.manual_claims.id_of_encounter(encounter_id)
            return load_claim(uow, claim_id) if claim_id else None

    def hand_over(
        self, claim_id: str, *, actor: str, discharged_at: datetime | None = None
    ) -> ManualClaim:
        """The fee list of a case from the start printed and handed to the worker: from now on
        it stays a manual claim (N§38, B§27) and the encounter is final. A fitting's list is
        refused when the fund already paid any of its items under its notice directly
        (:func:`~.device_outage.refuse_after_direct_fitting`): recorded before that fitting,
        or by a card the store only matched to the worker since."""
        ctx = self._ctx
        with ctx.uow(immediate=True) as uow:
            claim = load_claim(uow, claim_id)
            if not claim.open_case:
                return claim  # handed over already (a reprint): the same list
            lock_encounter(uow, claim.encounter_id)
            record = uow.encounters.get(claim.encounter_id)
            device = record.encounter.kind is EncounterKind.DEVICE
            fitting = claim.fee_list.get("fitting") if device else None
            if isinstance(fitting, dict):  # the last moment before the insured place pays
                refuse_after_direct_fitting(
                    ctx,
                    uow,
                    record.encounter.psn_no,
                    str(fitting.get("approval_notice_no", "")),
                    # what the list claims: not the items it lists as the worker's
                    {
                        str(i.get("device_code"))
                        for i in fitting.get("items", ())
                        if not i.get("worker_pays")
                    },
                    handing_over=True,
                    field="claim_id",
                )
            changes: dict[str, object] = {}
            if device:  # a fitting ends when it is fitted
                changes["discharged_at"] = record.encounter.admitted_at
            elif discharged_at is not None or record.encounter.discharged_at is None:
                changes["discharged_at"] = discharged_at or ctx.now()
            claimed = record.encounter.moved_to(EncounterStatus.MANUAL_CLAIM, **changes)
            uow.encounters.update(claimed, expected_version=record.version)
            # A fitting's list is the items as entered (no fee lines to price: device_claims).
            listing = claim.fee_list if device else fee_list(ctx, uow, claim.encounter_id)
            now = ctx.now()
            uow.manual_claims.hand_over(claim_id, listing, now)
            uow.settle_waits.forget(claim.encounter_id)
            uow.audit.append(
                actor=actor,
                action="manual_claim.hand_over",
                subject_type="encounter",
                subject_id=claim.encounter_id,
                details={"claim_id": claim_id, "total": listing["medfee_sumamt"]},
            )
            uow.commit()
        return replace(claim, fee_list=listing, handed_over_at=now)

    def switch_to_direct(
        self,
        claim_id: str,
        card: CardData,
        *,
        actor: str,
        injury_parts: Sequence[str] | None = None,
    ) -> Encounter:
        """Upstream answers again before the fee list was handed over: identity and filing are
        checked as at admission (N§33, B§28) and, if both pass, the stay becomes a direct
        settlement stay — registered upstream now (WI2401) — and the case is dropped. Its
        injured parts — ``injury_parts`` when the clerk names them now, else those recorded at
        the case's admission — must name one or more of the filed ones, as at any admission
        (N§16): a case may leave them blank, a direct stay may not."""
        ctx = self._ctx
        with ctx.uow() as uow:
            claim = load_claim(uow, claim_id)
            encounter = uow.encounters.get(claim.encounter_id).encounter
        if encounter.kind is EncounterKind.DEVICE and self.device_switch is not None:
            return self.device_switch(claim_id, card, actor=actor).settlement.encounter
        if not claim.open_case:
            raise InvalidTransition(
                "费用清单已交付，本次住院已转参保地手工报销，不能再转为直接结算"
                "（N§38、B§27，杜绝重复报销）",
                code="MANUAL_CLAIM_HANDED_OVER",
                article=ARTICLE,
            )
        parts = listed_parts(encounter.injury_parts if injury_parts is None else injury_parts)
        facts = self._identity.facts(card, context=encounter.his_visit_id)  # no uow open
        decision = decide(
            facts,
            encounter.kind,
            admitted_on=ctx.local_date(encounter.admitted_at),
            checked_on=ctx.local_date(encounter.admitted_at),
            stage=Stage.ADMISSION,
            injury_parts=parts,
            parts_required=True,
            # the clerk reads the warnings today, not on the (past) admission day
            today=ctx.local_date(ctx.now()),
        )
        if not decision.eligible or decision.filing is None:
            raise EligibilityRefused(decision.reasons)
        person, filing = facts.person, decision.filing
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, encounter.id)
            if open_case(uow, encounter.id) != claim_id:
                raise InvalidTransition(
                    "费用清单已交付或已转为直接结算，请刷新后查看", code="MANUAL_CLAIM_HANDED_OVER"
                )
            record = uow.encounters.get(encounter.id)
            # one stay at a time, of either inpatient kind (N§33, B§28), as at admission
            others = uow.encounters.open_stays(ctx.institution.code, person.psn_no)
            other = next((o for o in others if o.encounter.id != encounter.id), None)
            if other is not None:
                raise InvalidTransition(
                    f"该工伤职工已有未结束的住院（HIS住院号{other.encounter.his_visit_id}），"
                    "不能转为直接结算",
                    code="OPEN_STAY_EXISTS",
                    article="N§33, B§28",
                )
            direct = replace(
                record.encounter,
                psn_no=person.psn_no,
                filing_no=filing.filing_no,
                insured_admdvs=person.insured_admdvs,
                # N§16: in the filing's own spelling, as an admission keeps them
                injury_parts=tuple(filed_part_for(p, filing.injury_parts) for p in parts),
            )
            uow.encounters.update(direct, expected_version=record.version)
            uow.manual_claims.remove(claim_id)
            cache(uow, facts)
            upload = queue_admission(ctx, uow, direct, person, filing)
            uow.audit.append(
                actor=actor,
                action="manual_claim.switch_to_direct",
                subject_type="encounter",
                subject_id=direct.id,
                details={
                    "claim_id": claim_id,
                    "psn_no": person.psn_no,
                    "filing_no": filing.filing_no,
                    "msgid": upload.msgid,
                },
            )
            uow.commit()
        return direct


def _registered(uow: UnitOfWork, encounter_id: str) -> bool:
    """An admission registration (WI2401) was queued, and not already revoked (WI2404)."""
    infnos = uow.uploads.infnos(encounter_id)
    return Infno.ADMISSION.value in infnos and Infno.ADMISSION_REVOKE.value not in infnos
