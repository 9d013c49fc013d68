"""Assistive-device fitting (辅助器具配置, N§34, B§34, B§35): settled at the counter.

The worker shows the card and the insured place's payment approval notice. Identity, the
device filing and the notice are checked (B§34: the notice number must match the filing
and every item must be on it); the items are priced against the *insured place's* device
catalogue and limits (N§32, N§34, B§35) — within the limit the fund pays the actual cost, above
it the limit and the worker the excess; replaced before its minimum years, nothing. One
transaction records the fitting as an encounter, settles it, and queues ``WI2701`` due
settled-at + 30 minutes (N§34, B§35).

The same fitting submitted twice (same worker, notice, time and items) returns the first
settlement, flagged ``replayed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from adapter.domain.devices import DeviceItem, DeviceLimit, filed_limits, price_devices
from adapter.domain.eligibility import Stage
from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import EligibilityRefused, InvalidMessage
from adapter.domain.filings import Filing
from adapter.domain.people import CardData
from adapter.domain.ports import QueuedUpload
from adapter.domain.pricing import PricedBill
from adapter.domain.rules import Finding
from adapter.domain.settlement import Settlement, make_bill, settlement_day
from adapter.domain.upstream import Infno
from adapter.services import ids, payloads
from adapter.services.admission import require_aware
from adapter.services.context import ServiceContext
from adapter.services.eligibility import decide
from adapter.services.identity import Identity, cache, masked_card
from adapter.services.uploads import queue_upload
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class FitDevices:
    card: CardData
    approval_notice_no: str
    items: tuple[DeviceItem, ...]
    fitted_at: datetime


@dataclass(frozen=True)
class Fitted:
    settlement: Settlement
    upload: QueuedUpload | None
    replayed: bool = False
    warnings: tuple[Finding, ...] = ()


def fitting_key(psn_no: str, request: FitDevices) -> str:
    """The fitting's stand-in for an HIS visit number: same fitting, same key."""
    parts = [psn_no, request.approval_notice_no.strip(), request.fitted_at.isoformat()]
    parts += [f"{i.device_code}:{i.actual_cost}" for i in request.items]
    return "DEV" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:28].upper()


def last_fitted(uow: UnitOfWork, psn_no: str) -> dict[str, date]:
    """Each device code's latest settled fitting for the worker (minimum years, 附表2)."""
    latest: dict[str, date] = {}
    for record in uow.encounters.list_for_person(psn_no):
        if record.encounter.kind is not EncounterKind.DEVICE:
            continue
        settlement = uow.settlements.find_active(record.encounter.id)
        if settlement is None:
            continue
        for line in settlement.bill.lines:
            day = settlement.bill.discharged_on  # the fitting date (附表2 counts from it)
            code = line.line.item_code
            latest[code] = max(day, latest.get(code, day))
    return latest


class DeviceFittings:
    def __init__(self, ctx: ServiceContext, identity: Identity):
        self._ctx = ctx
        self._identity = identity

    def fit(self, request: FitDevices, *, actor: str) -> Fitted:
        ctx = self._ctx
        require_aware(request.fitted_at, "fitted_at")
        if not request.items:
            raise InvalidMessage("须至少配置一件辅助器具", field="items")
        facts = self._identity.facts(request.card)
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
        person = facts.person
        if not decision.eligible or decision.filing is None:
            with ctx.uow() as uow:
                cache(uow, facts)
                uow.audit.append(
                    actor=actor,
                    action="device.fit_refused",
                    subject_type="person",
                    subject_id=person.psn_no,
                    details={
                        "card": masked_card(request.card),
                        "reasons": [f"{r.code} ({r.article})" for r in decision.reasons],
                    },
                )
                uow.commit()
            raise EligibilityRefused(decision.reasons)
        filing = decision.filing
        key = fitting_key(person.psn_no, request)
        with ctx.uow(immediate=True) as uow:
            replay = self._replay(uow, key)
            if replay is not None:
                return replay
            catalogue = uow.catalogue.device_catalogue(person.insured_admdvs)
            fitted_local = ctx.local(request.fitted_at)
            priced = price_devices(
                request.items,
                filing,
                catalogue,
                person.insured_admdvs,
                fitted_local,
                last_fitted(uow, person.psn_no),
            )
            bill = make_bill(PricedBill(priced, ()), fitted_local, fitted_local)
            encounter = Encounter(
                id=ids.encounter_id(),
                kind=EncounterKind.DEVICE,
                psn_no=person.psn_no,
                filing_no=filing.filing_no,
                institution_code=ctx.institution.code,
                his_visit_id=key,
                admitted_at=request.fitted_at,
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
            uow.encounters.add(encounter)
            uow.encounters.update(settled, expected_version=1)
            uow.settlements.add(settlement, zone=ctx.zone)
            cache(uow, facts)
            upload = queue_upload(
                ctx,
                uow,
                infno=Infno.DEVICE_SETTLEMENT,
                input=payloads.device_input(ctx, settlement, person, filing),
                encounter_id=settled.id,
                settlement_id=settlement.id,
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
                    "items": [i.device_code for i in request.items],
                    "total": str(bill.breakdown.total),
                    "fund_pay": str(bill.breakdown.fund_pay),
                    "msgid": upload.msgid,
                },
            )
            uow.commit()
        return Fitted(settlement, upload, warnings=decision.warnings)

    def limits(
        self, filing: Filing, insured_region: str, at: datetime
    ) -> dict[str, DeviceLimit | None]:
        """The limit :meth:`fit` would apply to each filed item at ``at``, for the counter to
        show before anything is settled; changes nothing."""
        require_aware(at, "at")
        with self._ctx.uow() as uow:
            catalogue = uow.catalogue.device_catalogue(insured_region)
            return filed_limits(filing, catalogue, insured_region, self._ctx.local_date(at))

    def _replay(self, uow: UnitOfWork, key: str) -> Fitted | None:
        record = uow.encounters.find_by_visit(self._ctx.institution.code, key)
        if record is None:
            return None
        settlements: Sequence[Settlement] = uow.settlements.list_for_encounter(record.encounter.id)
        return Fitted(settlements[-1], None, replayed=True) if settlements else None
