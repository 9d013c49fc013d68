"""Discharge settlement (出院结算): presettle, settle (and re-settle).

Settle, in order:

1. the encounter may be settled (admitted, or its settlement revoked; never after a manual
   claim, N§38, B§27), the discharge is after the admission, a rehab stay's plan has reached
   upstream (:mod:`.rehab`);
2. identity and filing are checked **again** upstream (N§33, B§30) with the discharge-stage
   rules (:mod:`.discharge_eligibility`); upstream down, the stay waits for it instead
   (:mod:`.discharge_waits`);
3. in one transaction: every fee line priced against the catalogue in force on its date
   (priced when recorded; a line priced before a mapping or a catalogue load is priced
   again now), one bill for the whole stay even across New Year (N§36, B§41) summed from
   those prices by the database, a slip number, the settlement saved with its line snapshot
   (copied in the database), the encounter moved to ``settled``, and the discharge record
   (``WI2301``) queued with deadline settled-at + 30 minutes (N§33, N§47, B§31, B§32, B§50:
   uploaded promptly, exactly as settled: its fee details are the snapshot's lines).

Two clerks settling at once: the store's one-active-settlement index and the encounter's
version let exactly one commit; the other gets :class:`InvalidTransition` (HTTP 409).
Presettle does the pricing of step 3 and writes nothing; beside the bill it lists what
settling it would refuse of the discharge time, the stay's days and the bill (each check of
step 3, the discharge time's and the overlap with another stay, run as settle runs it, its
refusal kept instead of raised), so the clerk sees a 3-day stay billed 5 bed days before
pressing settle, not after; what upstream answers at settle is not asked. Revoking a
settlement, after which the encounter may be settled again, is :mod:`.revocation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adapter.domain.commands import Diagnosis
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import (
    DomainError,
    EligibilityRefused,
    InvalidMessage,
    InvalidTransition,
    UpstreamUnavailable,
)
from adapter.domain.people import CardData
from adapter.domain.ports import QueuedUpload
from adapter.domain.pricing import PricedLine
from adapter.domain.rules import Finding, Severity
from adapter.domain.settlement import Bill, Settlement, make_bill, settlement_day, summed_bill
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.admission import diagnosis_texts, require_aware
from adapter.services.billing import (
    price_encounter,
    refuse_unmapped,
    stale_lines,
    store_stale_prices,
)
from adapter.services.context import ServiceContext
from adapter.services.discharge_eligibility import decide_at_discharge, facts_at_discharge
from adapter.services.discharge_waits import wait_for_upstream
from adapter.services.identity import Identity, cache
from adapter.services.locks import lock_encounter
from adapter.services.manual_claim_records import refuse_direct_settlement_of_a_case
from adapter.services.rehab import check_gate
from adapter.services.stay_day_bounds import check_stay_days
from adapter.services.stay_overlaps import refuse_overlap
from adapter.services.uploads import queue_upload, upload_for_settlement
from adapter.store.repositories import MappingStatus
from adapter.store.repositories.fee_totals import StaySums
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


@dataclass(frozen=True)
class Presettlement:
    encounter: Encounter
    bill: Bill
    unmapped: tuple[str, ...]  # line ids the billing clerk must map first
    # What settling with this discharge time would refuse, in the order settle checks it
    # (settle raises the first): the same code, message, article and field.
    blocking: tuple[Finding, ...] = ()


def _may_settle(encounter: Encounter, discharged_at: datetime) -> None:
    if encounter.kind is EncounterKind.DEVICE:
        # Its items, notice and limits are entered at the device counter; here it has no
        # fee lines, and the checks of a discharge would refuse it for what it never needed.
        raise InvalidTransition(
            "辅助器具配置在器具室（辅助器具配置页面）结算：撤销后请在器具室重新录入本次配置并结算，"
            "不能在结算处按住院结算",
            code="DEVICE_SETTLED_AT_COUNTER",
            article="N§34, B§35",
        )
    encounter.moved_to(EncounterStatus.SETTLED)  # raises InvalidTransition in Chinese
    _refuse_discharge_before_admission(encounter, discharged_at)


def _refuse_discharge_before_admission(encounter: Encounter, discharged_at: datetime) -> None:
    if discharged_at < encounter.admitted_at:
        raise InvalidMessage("出院时间不能早于入院时间", field="discharged_at")


Check = Callable[[], None]  # raises the refusal it finds


def _bill_checks(
    ctx: ServiceContext,
    uow: UnitOfWork,
    encounter: Encounter,
    discharged_at: datetime,
    sums: StaySums,
) -> tuple[Check, ...]:
    """What settlement refuses of the stay's bill, stored prices summed as ``sums``, in the
    order settle checks it: settle raises the first refusal, presettle lists each."""

    def fees_before() -> None:
        # Only a fee after the discharge can be beyond it and the clock skew: the line is
        # read, and the rule applied, only then.
        if sums.latest is not None and sums.latest > discharged_at:
            latest = uow.fee_totals.latest(encounter.id)
            ctx.policy.times.check_fees_before(discharged_at, [latest] if latest else [])

    def unmapped() -> None:
        refuse_unmapped(uow.fee_lines.list_stored(encounter.id, status=MappingStatus.UNMAPPED))

    def days() -> None:
        check_stay_days(ctx, uow, encounter, discharged_at)

    def fees() -> None:
        if not sums.groups and not sums.excluded:
            raise DomainError("该就诊没有费用明细，不能结算", code="NO_FEES")

    return (fees_before, unmapped, days, fees)


def _refusals(checks: tuple[Check, ...]) -> tuple[Finding, ...]:
    """Each check's refusal, kept rather than raised."""
    found: list[Finding] = []
    for check in checks:
        try:
            check()
        except (DomainError, InvalidMessage) as exc:
            found.append(Finding(exc.code, exc.article, exc.message, Severity.REFUSAL, exc.field))
    return tuple(found)


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
        for check in _bill_checks(ctx, uow, encounter, discharged_at, sums):
            check()
        excluded = uow.fee_totals.excluded(encounter.id) if sums.excluded else []
        admitted = ctx.local(encounter.admitted_at)
        return summed_bill(sums.groups, excluded, admitted, ctx.local(discharged_at))

    def presettle(self, encounter_id: str, discharged_at: datetime | None = None) -> Presettlement:
        """The bill as it would be settled now, and what settling it would refuse; writes
        nothing, asks upstream nothing."""
        ctx = self._ctx
        with ctx.uow() as uow:
            if not stale_lines(ctx, uow, encounter_id):
                return self._presettled(uow, encounter_id, discharged_at)
        # A line priced before a mapping or a catalogue load (rare): settle stores its new
        # price before its checks, which read the stored prices (a bed day the load made a
        # per-day standard); so does this, and rolls it back.
        with ctx.uow(immediate=True) as uow:
            store_stale_prices(ctx, uow, encounter_id)
            presettled = self._presettled(uow, encounter_id, discharged_at)
            uow.rollback()
        return presettled

    def _presettled(
        self, uow: UnitOfWork, encounter_id: str, discharged_at: datetime | None
    ) -> Presettlement:
        """:meth:`presettle` in ``uow``, whose stay has every price stored."""
        ctx = self._ctx
        encounter = uow.encounters.get(encounter_id).encounter
        until = discharged_at or encounter.discharged_at or ctx.now()
        fees = price_encounter(ctx, uow, encounter_id, stale=set())

        def discharge() -> None:  # the discharge time, as settle checks it first
            _refuse_discharge_before_admission(encounter, until)
            ctx.policy.times.check_discharge(encounter, until, ctx.now(), zone=ctx.zone)

        def overlap() -> None:  # the stay's days, as settle checks them before the bill's
            refuse_overlap(
                ctx, uow, encounter.psn_no, encounter.admitted_at, until, besides=encounter.id
            )

        blocking = _refusals((discharge,))
        if until >= encounter.admitted_at:  # else the stay has no days to check its bill by
            sums = uow.fee_totals.sums(encounter_id)
            blocking += _refusals((overlap, *_bill_checks(ctx, uow, encounter, until, sums)))
        bill = make_bill(fees.bill, ctx.local(encounter.admitted_at), ctx.local(until))
        unmapped = tuple(s.line.line_id for s in fees.unmapped)
        return Presettlement(encounter, bill, unmapped, blocking)

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
            ctx.policy.times.check_discharge(
                encounter, request.discharged_at, ctx.now(), zone=ctx.zone
            )
            refuse_direct_settlement_of_a_case(uow, encounter.id)
            check_gate(ctx, uow, encounter, request.rehab_override_reason)
            person = uow.persons.get(encounter.psn_no)
        # No unit of work is open while upstream is asked (identity and filing, N§33, B§30).
        try:
            facts = facts_at_discharge(self._identity, encounter, person, request.card)
        except UpstreamUnavailable as exc:
            raise wait_for_upstream(ctx, encounter.id, request.discharged_at, actor) from exc
        decision = decide_at_discharge(ctx, facts, encounter, request.discharged_at)
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
            refuse_overlap(
                ctx, uow, current.psn_no, current.admitted_at, request.discharged_at,
                besides=current.id,
            )  # fmt: skip
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
