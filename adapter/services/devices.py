"""Assistive-device fitting (辅助器具配置, N§34, B§34, B§35): settled at the counter.

The worker shows the card and the insured place's payment approval notice. Identity, the device
filing and the notice are checked (B§34: the notice number must match the filing). The insured
place's device catalogue is made available first — fetched from upstream when it is not loaded,
with the district → city → province fallback (:mod:`.device_catalogues`) — before any
transaction opens. The items are then priced against that catalogue and the limits (N§32, N§34,
B§35): the lines of one item share one limit; an item off the notice is the worker's (N§34),
with a warning, and the rest is settled; a replacement inside the minimum years is priced
against a new notice that approves it, and otherwise settles only once the counter confirms
that the worker pays it (附表2; the earlier fittings, settled or manual-claim cases:
:mod:`.device_replacements`). Its time is bounded (:mod:`.device_times`). One transaction
records the fitting as an encounter, settles it, and queues ``WI2701`` due settled-at + 30
minutes (N§34, B§35). :meth:`DeviceFittings.presettle` prices the same way and writes nothing
(but the catalogue cache). The same fitting submitted twice (same worker, notice, time and
items) returns the first settlement, flagged ``replayed`` (:mod:`.device_again`).

Upstream down at the counter (identity, filing or catalogue cannot be read) answers
:class:`~.device_outage.UpstreamDownAtDeviceCounter` (N§38, B§27): wait and fit later, or
record the fitting as a manual-claim case from the start (:mod:`.device_claims`). Such a case
settles here only through :meth:`DeviceFittings.fit` with its ``case`` (the switch to direct
settlement before the fee list is handed over); a direct fitting of the same card and request
meanwhile is refused, and so is one of any of the case's items under the same notice for the
same worker, whatever time or cost it is entered with, while the case is open or once its fee
list was handed over (:func:`.device_outage.refuse_beside_a_case`): nothing is reimbursed
twice (N§38, B§27). The reverse order, a case of items the fund already paid directly under
the notice, is refused by the case's recording and hand-over
(:func:`.device_outage.refuse_after_direct_fitting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from adapter.domain.devices import DeviceItem, device_warnings, price_devices, unconfirmed
from adapter.domain.eligibility_request import Stage
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import (
    ConfirmationRequired,
    EligibilityRefused,
    InvalidMessage,
    UpstreamUnavailable,
)
from adapter.domain.filings import Filing
from adapter.domain.people import CardData, Person
from adapter.domain.ports import QueuedUpload
from adapter.domain.pricing import PricedBill
from adapter.domain.rules import Finding
from adapter.domain.settlement import Bill, Settlement, make_bill, settlement_day
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.admission import require_aware
from adapter.services.context import ServiceContext
from adapter.services.device_again import recorded_as_case, revoked_before, settled_before
from adapter.services.device_catalogues import DeviceCatalogues
from adapter.services.device_keys import (
    case_keys,
    case_psn_nos,
    find_fitting,
    fitting_key,
    fitting_keys,
)
from adapter.services.device_outage import (
    DeviceCase,
    UpstreamDownAtDeviceCounter,
    refuse_beside_a_case,
    require_open,
)
from adapter.services.device_replacements import CounterView, counter_view, earlier_with_cases
from adapter.services.device_times import check_fitted_at
from adapter.services.eligibility import decide
from adapter.services.identity import Identity, WorkerFacts, cache, masked_card
from adapter.services.locks import lock_encounter
from adapter.services.uploads import queue_upload
from adapter.store.repositories import EncounterRecord
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class FitDevices:
    card: CardData
    approval_notice_no: str
    items: tuple[DeviceItem, ...]
    fitted_at: datetime
    # The counter was shown the replacements inside the minimum years the worker pays, and
    # goes on (附表2); without it such a fitting is refused with ConfirmationRequired.
    replacement_confirmed: bool = False


@dataclass(frozen=True)
class Fitted:
    settlement: Settlement
    upload: QueuedUpload | None
    replayed: bool = False
    warnings: tuple[Finding, ...] = ()
    filing: Filing | None = None  # the device filing (its limits, for the per-item totals)


@dataclass(frozen=True)
class DevicePresettlement:
    """What :meth:`DeviceFittings.fit` would settle, and what the counter is warned of."""

    bill: Bill
    filing: Filing
    catalogue_region: str
    warnings: tuple[Finding, ...]
    needs_confirmation: tuple[Finding, ...]


class DeviceFittings:
    def __init__(self, ctx: ServiceContext, identity: Identity):
        self._ctx = ctx
        self._identity = identity
        self._catalogues = DeviceCatalogues(ctx)

    def _checked(
        self, request: FitDevices, *, actor: str, case: DeviceCase | None = None
    ) -> tuple[WorkerFacts, Filing, tuple[Finding, ...]]:
        """Identity, the fitting's time (:func:`.check_fitted_at`), filing and notice
        (upstream reads, no transaction held); refusals audited."""
        ctx = self._ctx
        require_aware(request.fitted_at, "fitted_at")
        ctx.policy.fittings.check_ahead(request.fitted_at, ctx.now())  # before asking upstream
        if not request.items:
            raise InvalidMessage("须至少配置一件辅助器具", field="items")
        try:
            facts = self._identity.facts(request.card)
        except UpstreamUnavailable as exc:
            raise UpstreamDownAtDeviceCounter() from exc
        check_fitted_at(
            ctx,
            request.fitted_at,
            notice=request.approval_notice_no,
            filings=facts.filings,
            registered_at=case.recorded_at if case is not None else None,
            aged=case is not None or not self._registered(request, facts.person),
        )
        fitted_on = ctx.local_date(request.fitted_at)
        decision = decide(
            facts,
            EncounterKind.DEVICE,
            admitted_on=fitted_on,
            checked_on=fitted_on,
            stage=Stage.ADMISSION,
            approval_notice_no=request.approval_notice_no,
            device_codes=[i.device_code for i in request.items],
        )
        if not decision.eligible or decision.filing is None:
            self._refused(request, facts, decision.reasons, actor=actor)
            raise EligibilityRefused(decision.reasons)
        return facts, decision.filing, decision.warnings

    def _registered(self, request: FitDevices, person: Person) -> bool:
        """Registered here already (a replay, a settlement again): its time was checked."""
        keys = (*fitting_keys(person.psn_no, request), *case_keys(request))
        with self._ctx.uow() as uow:
            return find_fitting(uow, self._ctx.institution.code, keys) is not None

    def _refused(
        self, request: FitDevices, facts: WorkerFacts, reasons: Sequence[Finding], *, actor: str
    ) -> None:
        with self._ctx.uow() as uow:
            cache(uow, facts)
            uow.audit.append(
                actor=actor,
                action="device.fit_refused",
                subject_type="person",
                subject_id=facts.person.psn_no,
                details={
                    "card": masked_card(request.card),
                    "reasons": [f"{r.code} ({r.article})" for r in reasons],
                },
            )
            uow.commit()

    def _region(self, request: FitDevices, facts: WorkerFacts, *, actor: str) -> str:
        """The insured place's catalogue, fetched if need be, before any transaction opens."""
        try:
            on = self._ctx.local_date(request.fitted_at)
            return self._catalogues.resolve(facts.person.insured_admdvs, on, actor=actor)
        except EligibilityRefused as refused:
            self._refused(request, facts, refused.reasons, actor=actor)
            raise
        except UpstreamUnavailable as exc:
            raise UpstreamDownAtDeviceCounter() from exc

    def _price(
        self,
        uow: UnitOfWork,
        request: FitDevices,
        filing: Filing,
        region: str,
        person: Person,
        *,
        case: DeviceCase | None = None,
    ) -> tuple[Bill, tuple[Finding, ...]]:
        """Priced against the catalogue and limits; the earlier fittings are the settled ones
        and the manual-claim cases (but the one settled now, ``case``)."""
        ctx = self._ctx
        fitted_local = ctx.local(request.fitted_at)
        earlier = earlier_with_cases(
            ctx,
            uow,
            person.psn_no,
            case_psn_nos(person, request.card),
            filing.approval_notice_no,
            filings=(filing, *uow.filings.for_person(person.psn_no)),
            skip=case.encounter_id if case is not None else "",
        )
        priced = price_devices(
            request.items,
            filing,
            uow.catalogue.device_catalogue(region),
            region,
            fitted_local,
            earlier,
        )
        warnings = device_warnings(request.items, filing, earlier, fitted_local.date())
        return make_bill(PricedBill(priced, ()), fitted_local, fitted_local), warnings

    def presettle(self, request: FitDevices, *, actor: str) -> DevicePresettlement:
        """Price the fitting as :meth:`fit` would and say what the counter must know before
        fitting; settles nothing (the catalogue fetched on the way is kept)."""
        facts, filing, checked = self._checked(request, actor=actor)
        region = self._region(request, facts, actor=actor)
        with self._ctx.uow() as uow:
            bill, warnings = self._price(uow, request, filing, region, facts.person)
        found = _merge(checked, warnings)
        return DevicePresettlement(bill, filing, region, found, unconfirmed(found))

    def fit(self, request: FitDevices, *, actor: str, case: DeviceCase | None = None) -> Fitted:
        """Check, price and settle the fitting. With ``case``, the manual-claim case from the
        start that it was recorded as is settled instead (its encounter, N§38, B§27)."""
        ctx = self._ctx
        facts, filing, checked = self._checked(request, actor=actor, case=case)
        region = self._region(request, facts, actor=actor)
        person = facts.person
        key = fitting_key(person.psn_no, request)
        # the keys it may be stored under: this version's, and those earlier ones wrote
        keys = fitting_keys(person.psn_no, request, filing.approval_notice_no)
        with ctx.uow(immediate=True) as uow:
            # The encounter settled again: the case's, or this very fitting's whose settlement
            # was revoked (撤销结算 for a correction, N§34, B§35: the fitting is still the fund's
            # to pay, and its key names that encounter, so it is not a replay).
            again: EncounterRecord | None = None
            if case is not None:
                lock_encounter(uow, case.encounter_id)
                require_open(uow, case)
                again = uow.encounters.get(case.encounter_id)
            else:
                here = ctx.institution.code
                again = revoked_before(uow, here, keys) or revoked_before(
                    uow, here, case_keys(request)
                )
                before = None
                if again is None:
                    before = settled_before(uow, here, keys) or recorded_as_case(uow, here, request)
                if before is not None:  # entered again (:mod:`.device_again`)
                    return Fitted(before.settlement, None, replayed=True, filing=before.filing)
            # The same items under the same notice as a manual-claim case, entered at another
            # time or cost: the key above cannot see it (N§38 杜绝重复报销).
            refuse_beside_a_case(
                uow,
                ctx.institution.code,
                case_psn_nos(person, request.card),
                request.approval_notice_no,
                {i.device_code for i in request.items},
                switching=case.encounter_id if case is not None else "",
            )
            bill, priced_warnings = self._price(uow, request, filing, region, person, case=case)
            warnings = _merge(checked, priced_warnings)
            pending = unconfirmed(warnings)
            if pending and not request.replacement_confirmed:
                raise ConfirmationRequired(pending)
            encounter = Encounter(
                id=ids.encounter_id() if case is None else case.encounter_id,
                kind=EncounterKind.DEVICE,
                psn_no=person.psn_no,
                filing_no=filing.filing_no,
                institution_code=ctx.institution.code,
                his_visit_id=key,
                admitted_at=request.fitted_at,
                insured_admdvs=person.insured_admdvs,
                injury_parts=filing.injury_parts,
            )
            version = 1
            if again is not None:  # its own encounter, now with the worker as checked
                version = again.version
                encounter = replace(
                    again.encounter,
                    psn_no=person.psn_no,
                    filing_no=filing.filing_no,
                    insured_admdvs=person.insured_admdvs,
                    injury_parts=filing.injury_parts,
                )
            settled = encounter.moved_to(EncounterStatus.SETTLED, discharged_at=request.fitted_at)
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
            if again is None:
                uow.encounters.add(encounter)
            if case is not None:
                uow.manual_claims.remove(case.claim_id)
            uow.encounters.update(settled, expected_version=version)
            uow.settlements.add(settlement, zone=ctx.zone)
            cache(uow, facts)
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.DEVICE_SETTLEMENT,
                input=payloads.device_input(ctx, settlement, person, filing),
                encounter_id=settled.id,
                settlement_id=settlement.id,
                details_of=settlement.id,
                insuplc_admdvs=person.insured_admdvs,
                deadline=settlement.settled_at + ctx.policy.upload_within,
            )
            uow.audit.append(
                actor=actor,
                action="device.fit",
                subject_type="encounter",
                subject_id=settled.id,
                details={
                    "settlement_id": settlement.id,
                    "slip_no": settlement.slip_no,
                    "approval_notice_no": filing.approval_notice_no,
                    "catalogue_region": region,
                    "items": [i.device_code for i in request.items],
                    "warnings": [f"{w.code} ({w.field})" for w in warnings],
                    "replacement_confirmed": bool(pending),
                    "total": str(bill.breakdown.total),
                    "fund_pay": str(bill.breakdown.fund_pay),
                    "msgid": upload.msgid,
                    "switched_from_claim": case.claim_id if case is not None else "",
                },
            )
            uow.commit()
        return Fitted(settlement, upload, warnings=warnings, filing=filing)

    def counter_view(
        self, filing: Filing, insured_region: str, psn_no: str, at: datetime, *, actor: str
    ) -> CounterView:
        """What the counter shows for each filed item before anything is settled: the limit
        :meth:`fit` would apply and any replacement inside the minimum years (with the earlier
        fitting). Fetches the catalogue if need be; settles nothing."""
        require_aware(at, "at")
        on = self._ctx.local_date(at)
        region = self._catalogues.resolve(insured_region, on, actor=actor)
        with self._ctx.uow() as uow:
            return counter_view(self._ctx, uow, filing, region, psn_no, on)


def _merge(checked: tuple[Finding, ...], priced: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The eligibility check's warnings and pricing's: an item off the notice is said once,
    by pricing (per item, with the reason the slip prints)."""
    return (*(w for w in checked if w.code != "EL_DEVICES_ON_NOTICE"), *priced)
