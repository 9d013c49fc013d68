"""Discharge settlement (出院结算): presettle, settle (and re-settle), revoke.

Settle, in order:

1. the encounter may be settled (admitted, or its settlement revoked; never after a manual
   claim, N§38, B§27), the discharge is after the admission, a rehab stay's plan has reached
   upstream (:mod:`.rehab`);
2. identity and filing are checked **again** upstream (N§33, B§30) with the discharge-stage
   rules — admitted inside the filing's validity settles even after it expired (N§13);
3. in one transaction: every fee line priced against the catalogue in force on its date
   (priced when recorded; a line priced before a mapping or a catalogue load is priced
   again now), one bill for the whole stay even across New Year (N§36, B§41) summed from
   those prices by the database, a slip number, the settlement saved with its line snapshot
   (copied in the database), the encounter moved to ``settled``, and the discharge record
   (``WI2301``) queued with deadline settled-at + 30 minutes (N§33, N§47, B§31, B§32, B§50:
   uploaded promptly, exactly as settled: its fee details are the snapshot's lines).

Two clerks settling at once: the store's one-active-settlement index and the encounter's
version let exactly one commit; the other gets :class:`InvalidTransition` (HTTP 409).
Presettle does the pricing of step 3 and writes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from adapter.domain.commands import Diagnosis
from adapter.domain.eligibility import IDENTITY_MATCH, EligibilityDecision, Stage
from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import (
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    InvalidTransition,
    UpstreamUnavailable,
)
from adapter.domain.people import CardData, Person
from adapter.domain.ports import QueuedUpload
from adapter.domain.pricing import PricedLine
from adapter.domain.rules import Finding
from adapter.domain.settlement import (
    Bill,
    Settlement,
    SettlementStatus,
    make_bill,
    settlement_day,
    summed_bill,
)
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.admission import diagnosis_texts, require_aware
from adapter.services.billing import price_encounter, refuse_unmapped, store_stale_prices
from adapter.services.context import ServiceContext
from adapter.services.eligibility import decide
from adapter.services.identity import Identity, WorkerFacts, cache
from adapter.services.locks import lock_encounter
from adapter.services.manual_claim_records import refuse_direct_settlement_of_a_case
from adapter.services.rehab import check_gate
from adapter.services.uploads import queue_upload, upload_for_settlement
from adapter.store.repositories import MappingStatus, WaitingStay
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class SettleRequest:
    encounter_id: str
    discharged_at: datetime
    discharge_diagnoses: tuple[Diagnosis, ...] = ()
    card: CardData | None = None  # the card shown again at discharge, if the desk reads it
    rehab_override_reason: str = ""  # a billing supervisor's reason (N§33 "原则上")
    # The settlement's bill is summed by the database: it carries this many of its first
    # lines, read from the snapshot before the commit (the upload's delivery starts with it).
    show_lines: int = 0


@dataclass(frozen=True)
class Settled:
    settlement: Settlement
    upload: QueuedUpload
    warnings: tuple[Finding, ...] = ()
    replayed: bool = False  # the same settle request again: the first settlement


OUTAGE_ARTICLE = "N§38, B§27"
OUTAGE_MESSAGE = (
    "上级系统（省级及国家工伤保险异地就医系统）当前无法访问，出院时不能再次核验身份和备案，"
    "暂不能直接结算，本次未保存任何结算数据（N§38）。可选择：一、等待上级系统恢复——本次出院"
    "已列入“等待上级系统恢复”名单，恢复后本系统自动重新核验，并在结算收费页提示可以结算；"
    "二、转手工报销——按网络或系统故障转参保地经办机构手工报销（N§38、B§27）"
)


class UpstreamDownAtDischarge(UpstreamUnavailable):
    """A full upstream outage at discharge: the two ways on, wait or manual claim (N§38)."""

    code = "UPSTREAM_DOWN_AT_DISCHARGE"
    article = OUTAGE_ARTICLE

    def __init__(self, encounter_id: str):
        super().__init__(OUTAGE_MESSAGE)
        self.encounter_id = encounter_id

    @property
    def problem_extra(self) -> dict[str, object]:
        return {
            "encounter_id": self.encounter_id,
            "ways_on": [
                {
                    "way": "wait",
                    "label": "等待上级系统恢复后结算",
                    "list": "/api/v1/encounters/waiting-for-upstream",
                },
                {
                    "way": "manual_claim",
                    "label": "转手工报销（网络或上级系统中断）",
                    "reason": "upstream_unavailable",
                    "create": "/api/v1/manual-claims",
                },
            ],
        }


@dataclass(frozen=True)
class Presettlement:
    encounter: Encounter
    bill: Bill
    unmapped: tuple[str, ...]  # line ids the billing clerk must map first


def _may_settle(encounter: Encounter, discharged_at: datetime) -> None:
    encounter.moved_to(EncounterStatus.SETTLED)  # raises InvalidTransition in Chinese
    if discharged_at < encounter.admitted_at:
        raise InvalidMessage("出院时间不能早于入院时间", field="discharged_at")


class Settlements:
    def __init__(self, ctx: ServiceContext, identity: Identity):
        self._ctx = ctx
        self._identity = identity

    def _bill(self, uow: UnitOfWork, encounter: Encounter, discharged_at: datetime) -> Bill:
        """The stay's bill summed from its stored prices by the database: a 10,000-line stay
        costs a grouped query, not 10,000 lines read and summed (the snapshot is copied from
        the same rows, and the upload's details formatted from it when it is sent)."""
        ctx = self._ctx
        store_stale_prices(ctx, uow, encounter.id)
        sums = uow.fee_totals.sums(encounter.id)
        # Only a fee after the discharge can be beyond it and the clock skew: the line is
        # read, and the rule applied, only then.
        if sums.latest is not None and sums.latest > discharged_at:
            latest = uow.fee_totals.latest(encounter.id)
            ctx.policy.times.check_fees_before(discharged_at, [latest] if latest else [])
        refuse_unmapped(uow.fee_lines.list_stored(encounter.id, status=MappingStatus.UNMAPPED))
        if not sums.groups and not sums.excluded:
            raise DomainError("该就诊没有费用明细，不能结算", code="NO_FEES")
        excluded = uow.fee_totals.excluded(encounter.id) if sums.excluded else []
        admitted = ctx.local(encounter.admitted_at)
        return summed_bill(sums.groups, excluded, admitted, ctx.local(discharged_at))

    def presettle(self, encounter_id: str, discharged_at: datetime | None = None) -> Presettlement:
        """The bill as it would be settled now; writes nothing, asks upstream nothing."""
        ctx = self._ctx
        with ctx.uow() as uow:
            encounter = uow.encounters.get(encounter_id).encounter
            until = discharged_at or encounter.discharged_at or ctx.now()
            fees = price_encounter(ctx, uow, encounter_id)
        bill = make_bill(fees.bill, ctx.local(encounter.admitted_at), ctx.local(until))
        return Presettlement(encounter, bill, tuple(s.line.line_id for s in fees.unmapped))

    def _facts(
        self, encounter: Encounter, person: Person | None, card: CardData | None
    ) -> WorkerFacts:
        """Identity and filing as upstream says now; called with no unit of work open."""
        if card is not None:
            facts = self._identity.facts(card, context=encounter.id)
            if facts.person.psn_no != encounter.psn_no:
                raise EligibilityRefused(
                    [IDENTITY_MATCH.refused("card", what="出院持卡人与入院登记人员")]
                )
            return facts
        if person is None:
            raise DomainError(
                "未找到该工伤职工的人员信息，请读取社会保障卡后再结算", code="PERSON_UNKNOWN"
            )
        return self._identity.facts_again(person, context=encounter.id)

    def _decide(
        self, facts: WorkerFacts, encounter: Encounter, discharged_at: datetime
    ) -> EligibilityDecision:
        ctx = self._ctx
        return decide(
            facts,
            encounter.kind,
            admitted_on=ctx.local_date(encounter.admitted_at),
            checked_on=ctx.local_date(discharged_at),
            stage=Stage.DISCHARGE,
            injury_parts=encounter.injury_parts,
            admitted_filing_no=encounter.filing_no,
        )

    def _replay(
        self, uow: UnitOfWork, encounter: Encounter, request: SettleRequest
    ) -> Settled | None:
        """The first settlement, if ``request`` repeats the one that made it (same discharge
        time, and the same discharge diagnoses when given): a resent request replays."""
        if encounter.status is not EncounterStatus.SETTLED:
            return None
        active = uow.settlements.find_active(encounter.id)
        if active is None or active.encounter.discharged_at != request.discharged_at:
            return None
        if request.discharge_diagnoses and tuple(
            diagnosis_texts(request.discharge_diagnoses)
        ) != tuple(active.encounter.diagnoses):
            return None
        record = upload_for_settlement(uow, active.id, Infno.DISCHARGE)
        if record is None:
            return None
        upload = QueuedUpload(record.job_id, record.infno, record.msgid, record.deadline)
        return Settled(active, upload, replayed=True)

    def settle(self, request: SettleRequest, *, actor: str) -> Settled:
        ctx = self._ctx
        require_aware(request.discharged_at, "discharged_at")
        with ctx.uow() as uow:
            encounter = uow.encounters.get(request.encounter_id).encounter
            replayed = self._replay(uow, encounter, request)
            if replayed is not None:
                return replayed
            _may_settle(encounter, request.discharged_at)
            ctx.policy.times.check_discharge(encounter, request.discharged_at, ctx.now())
            refuse_direct_settlement_of_a_case(uow, encounter.id)
            check_gate(ctx, uow, encounter, request.rehab_override_reason)
            person = uow.persons.get(encounter.psn_no)
        # No unit of work is open while upstream is asked (identity and filing, N§33, B§30).
        try:
            facts = self._facts(encounter, person, request.card)
        except UpstreamUnavailable as exc:
            raise self._wait_for_upstream(encounter, request, actor) from exc
        decision = self._decide(facts, encounter, request.discharged_at)
        if not decision.eligible or decision.filing is None:
            self._audit_refusal(encounter, decision.reasons, actor)
            raise EligibilityRefused(decision.reasons)
        with ctx.uow(immediate=True) as uow:
            lock_encounter(uow, request.encounter_id)
            record = uow.encounters.get(request.encounter_id)
            current = record.encounter
            replayed = self._replay(uow, current, request)
            if replayed is not None:
                return replayed
            _may_settle(current, request.discharged_at)
            refuse_direct_settlement_of_a_case(uow, current.id)
            gate = check_gate(ctx, uow, current, request.rehab_override_reason)
            bill = self._bill(uow, current, request.discharged_at)
            changes: dict[str, object] = {"discharged_at": request.discharged_at}
            if request.discharge_diagnoses:
                changes["diagnoses"] = tuple(diagnosis_texts(request.discharge_diagnoses))
            settled = current.moved_to(EncounterStatus.SETTLED, **changes)
            settled_at = ctx.now()
            settlement = Settlement(
                id=ids.settlement_id(),
                encounter=settled,
                slip_no=uow.slips.next_slip_no(
                    ctx.institution.code, settlement_day(settled_at, ctx.zone)
                ),
                settled_at=settled_at,
                bill=bill,
                operator=actor,
            )
            # The bill is the stay's stored prices (stale ones stored by _bill): the snapshot
            # is copied from them in the database.
            uow.settlements.add(settlement, zone=ctx.zone, lines_of=settled.id)
            if request.show_lines:
                _, first = uow.settlements.line_page(
                    settlement.id, after=None, limit=request.show_lines
                )
                shown = dataclasses.replace(bill, lines=tuple(line for _, line in first))
                settlement = dataclasses.replace(settlement, bill=shown)
            uow.encounters.update(settled, expected_version=record.version, ready_to_settle=False)
            uow.settle_waits.forget(settled.id)
            cache(uow, facts)
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.DISCHARGE,
                input=payloads.discharge_input(ctx, settlement, facts.person, decision.filing),
                encounter_id=settled.id,
                settlement_id=settlement.id,
                details_of=settlement.id,
                insuplc_admdvs=facts.person.insured_admdvs,
                deadline=settlement.settled_at + ctx.policy.upload_within,
            )
            uow.audit.append(
                actor=actor,
                action="settlement.settle",
                subject_type="encounter",
                subject_id=settled.id,
                details={
                    "settlement_id": settlement.id,
                    "slip_no": settlement.slip_no,
                    "total": str(bill.breakdown.total),
                    "fund_pay": str(bill.breakdown.fund_pay),
                    "personal_pay": str(bill.breakdown.personal_pay),
                    "msgid": upload.msgid,
                    "rehab_plan": gate,
                    "rehab_override_reason": request.rehab_override_reason
                    if gate == "overridden"
                    else "",
                    "warnings": [w.code for w in decision.warnings],
                },
            )
            uow.commit()
        return Settled(settlement, upload, decision.warnings)

    # -- a full upstream outage at discharge (N§38, B§27) ------------------------------------

    def _wait_for_upstream(
        self, encounter: Encounter, request: SettleRequest, actor: str
    ) -> UpstreamDownAtDischarge:
        """Put the stay on the waiting list (nothing else is written) and say the ways on."""
        ctx = self._ctx
        now = ctx.now()
        with ctx.uow(immediate=True) as uow:
            uow.settle_waits.wait(
                encounter.id, discharged_at=request.discharged_at, by=actor, at=now
            )
            uow.audit.append(
                actor=actor,
                action="settlement.waiting_for_upstream",
                subject_type="encounter",
                subject_id=encounter.id,
                details={"discharged_at": request.discharged_at.isoformat()},
            )
            uow.commit()
        return UpstreamDownAtDischarge(encounter.id)

    def waiting(self) -> list[WaitingStay]:
        """The stays waiting for upstream, oldest first (the billing desk's list)."""
        with self._ctx.uow() as uow:
            return uow.settle_waits.waiting()

    def recheck_waiting(self, *, limit: int = 20) -> int:
        """Check the waiting stays again now: identity and filing (N§33, B§30) with the
        discharge-stage rules. A stay that passes is marked ready to settle; one refused keeps
        the reasons; when upstream is still down, stop until the next round. Writes nothing to
        any settlement. Returns how many stays became ready."""
        ctx = self._ctx
        with ctx.uow() as uow:
            stays = []
            for encounter_id, discharged_at in uow.settle_waits.unchecked(limit):
                encounter = uow.encounters.get(encounter_id).encounter
                stays.append((encounter, discharged_at, uow.persons.get(encounter.psn_no)))
        ready = 0
        for encounter, discharged_at, person in stays:
            if not encounter.can_become(EncounterStatus.SETTLED):
                self._forget_wait(encounter.id)
                continue
            try:
                facts = self._facts(encounter, person, None)
            except UpstreamUnavailable:
                return ready
            except (EligibilityRefused, DomainError) as exc:
                self._mark_wait(encounter.id, refusal=exc.message)
                continue
            decision = self._decide(facts, encounter, discharged_at)
            if decision.eligible:
                self._mark_wait(encounter.id, refusal="")
                ready += 1
            else:
                refusal = "；".join(f"{r.message}（{r.article}）" for r in decision.reasons)
                self._mark_wait(encounter.id, refusal=refusal)
        return ready

    def _mark_wait(self, encounter_id: str, *, refusal: str) -> None:
        now = self._ctx.now()
        with self._ctx.uow() as uow:
            uow.settle_waits.checked(encounter_id, now, refusal=refusal)
            uow.commit()

    def _forget_wait(self, encounter_id: str) -> None:
        with self._ctx.uow() as uow:
            uow.settle_waits.forget(encounter_id)
            uow.commit()

    def _audit_refusal(
        self, encounter: Encounter, reasons: tuple[Finding, ...], actor: str
    ) -> None:
        with self._ctx.uow() as uow:
            uow.audit.append(
                actor=actor,
                action="settlement.settle_refused",
                subject_type="encounter",
                subject_id=encounter.id,
                details={"reasons": [f"{r.code} ({r.article})" for r in reasons]},
            )
            uow.commit()

    def get(self, settlement_id: str) -> Settlement:
        with self._ctx.uow() as uow:
            return uow.settlements.get(settlement_id)

    def lines(
        self, settlement_id: str, *, after: int | None, limit: int
    ) -> tuple[int, list[tuple[int, PricedLine]]]:
        """A page of the settlement's priced lines, as saved (see
        :meth:`SettlementRepository.line_page`): how many it has, and ``limit`` of them after
        position ``after``, each with its position."""
        with self._ctx.uow() as uow:
            return uow.settlements.line_page(settlement_id, after=after, limit=limit)

    def upload_of(self, settlement: Settlement) -> QueuedUpload | None:
        """The discharge record (WI2301) or device settlement (WI2701) that carried it."""
        with self._ctx.uow() as uow:
            record = upload_for_settlement(
                uow, settlement.id, Infno.DISCHARGE
            ) or upload_for_settlement(uow, settlement.id, Infno.DEVICE_SETTLEMENT)
        if record is None:
            return None
        return QueuedUpload(record.job_id, record.infno, record.msgid, record.deadline)

    def revoke(
        self, settlement_id: str, *, reason: str, actor: str
    ) -> tuple[Settlement, QueuedUpload]:
        """Revoke a settlement and queue ``WI2305`` behind the upload it revokes (same
        ordering key: the encounter). The encounter may then be settled again."""
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
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.SETTLEMENT_REVOKE,
                input=payloads.revoke_input(settlement, reason, original.msgid if original else ""),
                encounter_id=settlement.encounter.id,
                settlement_id=settlement_id,
                insuplc_admdvs=settlement.encounter.insured_admdvs,
                deadline=ctx.now() + ctx.policy.revocation_upload_within,
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
