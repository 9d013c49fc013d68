"""A device fitting recorded as a manual-claim case from the start (手工报销, N§38, B§27).

Upstream down at the device counter (:class:`~.device_outage.UpstreamDownAtDeviceCounter`) and the
counter chose manual claim: the fitting is recorded as a device encounter that nothing
registers or uploads upstream, with its fee list — the items and their actual costs as entered.
Without the insured place's catalogue and the filing's limits (N§32, N§34, B§35) nobody here
can say what the fund would pay and what the worker: the whole cost is listed for the insured
place to review and reimburse, and the list says so.

:meth:`~.manual_claims.ManualClaims.hand_over` hands the list (marked 手工报销) to the worker
and makes it final. Before that, :meth:`DeviceClaims.switch_to_direct` checks identity, device
filing and notice with the card (B§34) and settles the fitting directly through
:meth:`~.devices.DeviceFittings.fit` (``WI2701`` queued, N§34) — the case is dropped then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.device_cases import WORKER_PAYS_NOTE, case_repeats, claimed_split
from adapter.domain.device_codes import ARTICLE as CODE_CASE_ARTICLE
from adapter.domain.device_codes import check_code_case
from adapter.domain.device_regions import catalogue_regions
from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.errors import (
    ConfirmationRequired,
    InvalidMessage,
    InvalidTransition,
    PricingError,
)
from adapter.domain.filings import Filing, FilingPurpose, same_notice
from adapter.domain.people import CardData, Person, mask_citizen_id
from adapter.domain.rules import Finding
from adapter.services import ids, payloads
from adapter.services.admission import require_aware
from adapter.services.context import ServiceContext
from adapter.services.device_keys import case_key, case_keys, case_psn_nos, find_fitting
from adapter.services.device_outage import (
    DEVICE_OUTAGE_ARTICLE,
    DeviceCase,
    UpstreamDownAtDeviceCounter,
    refuse_after_direct_fitting,
)
from adapter.services.device_replacements import earlier_with_cases
from adapter.services.device_times import check_fitted_at
from adapter.services.devices import DeviceFittings, FitDevices, Fitted
from adapter.services.identity import masked_card, unverified_psn_no
from adapter.services.manual_claim_fee_list import NOTE
from adapter.services.manual_claim_records import (
    ManualClaim,
    ManualClaimReason,
    load_claim,
    stored_claim,
)
from adapter.services.manual_claims import ManualClaims
from adapter.store.uow import UnitOfWork

DEVICE_NOTE = (
    "本次配置时上级系统无法访问，未能取得参保地辅助器具目录及限额，无法确定基金支付和个人"
    "负担金额：本清单按实际配置费用列明全部费用，由参保地经办机构按其目录和限额审核报销"
    "（N§32、N§34、B§35）。"
)
DETAIL = "辅助器具配置时上级系统无法访问，按手工报销登记（N§38、B§27）"


def device_fee_list(
    ctx: ServiceContext,
    uow: UnitOfWork,
    encounter: Encounter,
    request: FitDevices,
    repeats: Sequence[Finding] = (),
) -> dict[str, Any]:
    """The list for the insured place: every item at its actual cost, the whole cost claimed
    but the ``repeats`` the counter confirmed the worker pays (each with why)."""
    total = sum((i.actual_cost for i in request.items), Decimal("0"))
    claimed, personal = claimed_split(request.items, repeats)
    why = {f.field: f"{f.message}（{f.article}）" for f in repeats}
    person = uow.persons.get(encounter.psn_no)
    return {
        "institution": payloads.medinsinfo(ctx),
        "worker": {
            "psn_no": "" if encounter.psn_no.startswith("?") else encounter.psn_no,
            "name": person.name if person else "",
            "citizen_id": mask_citizen_id(request.card.citizen_id)
            if request.card.citizen_id
            else "",
            "insured_admdvs": encounter.insured_admdvs,
        },
        "encounter": {
            "id": encounter.id,
            "kind": EncounterKind.DEVICE.value,
            "his_visit_id": encounter.his_visit_id,
            "filing_no": "",
            "admitted_at": ctx.wall_time(encounter.admitted_at),
            "discharged_at": ctx.wall_time(encounter.admitted_at),
            "diagnoses": [],
        },
        "fitting": {
            "approval_notice_no": request.approval_notice_no,
            "fitted_at": request.fitted_at.isoformat(),
            "items": [
                {
                    "device_code": i.device_code,
                    "device_name": i.device_name,
                    "actual_cost": payloads.money(i.actual_cost),
                    "worker_pays": i.device_code in why,
                }
                for i in request.items
            ],
        },
        "lines": [
            {
                "feedetl_sn": f"{n:03d}",
                "item_code": i.device_code,
                "item_name": i.device_name or i.device_code,
                "amount": payloads.money(i.actual_cost),
                "claimed": payloads.money(Decimal(0) if i.device_code in why else i.actual_cost),
                "personal": payloads.money(i.actual_cost if i.device_code in why else Decimal(0)),
                "reason": why.get(i.device_code, ""),
            }
            for n, i in enumerate(request.items, start=1)
        ],
        "excluded": [],
        "unmapped": [],
        "medfee_sumamt": payloads.money(total),
        "claimed_sumamt": payloads.money(claimed),
        "personal_sumamt": payloads.money(personal),
        "title": "工伤保险跨省异地辅助器具配置费用清单（手工报销）",
        "manual_claim": True,
        "note": DEVICE_NOTE + (WORKER_PAYS_NOTE if why else "") + NOTE,
    }


def stored_request(claim: ManualClaim, card: CardData, replacement_confirmed: bool) -> FitDevices:
    """The fitting the case was recorded with, to be checked with ``card`` now."""
    fitting = claim.fee_list["fitting"]
    return FitDevices(
        card=card,
        approval_notice_no=fitting["approval_notice_no"],
        items=tuple(
            DeviceItem(i["device_code"], i["device_name"], Decimal(i["actual_cost"]))
            for i in fitting["items"]
        ),
        fitted_at=datetime.fromisoformat(fitting["fitted_at"]),
        replacement_confirmed=replacement_confirmed,
    )


class DeviceClaims:
    def __init__(self, ctx: ServiceContext, fittings: DeviceFittings, claims: ManualClaims):
        self._ctx = ctx
        self._fittings = fittings
        self._claims = claims

    def fit_or_claim(self, request: FitDevices, *, actor: str) -> Fitted | ManualClaim:
        """Fit and settle; with upstream down, record the fitting as a manual-claim case."""
        try:
            return self._fittings.fit(request, actor=actor)
        except UpstreamDownAtDeviceCounter:
            return self.record(request, actor=actor)

    def record(self, request: FitDevices, *, actor: str) -> ManualClaim:
        """The fitting as a manual-claim case from the start (N§38, B§27): nothing registered
        or uploaded upstream; the same request again returns the same case. Refused when the
        fund already paid any of its items under its notice directly
        (:func:`~.device_outage.refuse_after_direct_fitting`). An item an earlier fitting —
        settled, or another case at another time — already claims under the same notice, or
        inside its minimum years, is a repeat (:func:`.case_repeats`): recorded only once the
        counter confirms, and then the worker's on the list (N§34, N§38, 附表2)."""
        ctx = self._ctx
        require_aware(request.fitted_at, "fitted_at")
        ctx.policy.fittings.check_ahead(request.fitted_at, ctx.now())  # a double click's too
        if not request.items:
            raise InvalidMessage("须至少配置一件辅助器具", field="items")
        key = case_key(request)
        card = request.card
        with ctx.uow(immediate=True) as uow:
            existing = find_fitting(uow, ctx.institution.code, case_keys(request))
            if existing is not None:
                return self._existing(uow, existing.encounter.id)
            found = uow.persons.find_by_citizen_id(card.citizen_id) if card.citizen_id else []
            known = found[0] if len(found) == 1 else None  # as last seen, never asked now
            worker = _stored_worker(uow, card, known)
            filings = uow.filings.for_person(worker.psn_no) if worker is not None else []
            # the same check as a direct fitting's, against the filing as the store has it
            check_fitted_at(
                ctx, request.fitted_at, notice=request.approval_notice_no, filings=filings
            )
            # Each code as the notice and catalogue last seen here write it: one in another
            # letter case would slip past the checks below, which compare codes (N§38), and
            # reach the insured place as an item off its catalogue (N§32).
            _check_code_case(uow, request, worker, filings, ctx.local_date(request.fitted_at))
            # The fund paid these items under this notice directly already: the fee list
            # would have the insured place pay them again (N§38 杜绝重复报销, B§27).
            refuse_after_direct_fitting(
                ctx,
                uow,
                known.psn_no if known else unverified_psn_no(card),
                request.approval_notice_no,
                {i.device_code for i in request.items},
                numbers=(card.citizen_id, card.card_no),
                field="items",
            )
            repeats = self._repeats(uow, request, worker, filings)
            if repeats and not request.replacement_confirmed:
                raise ConfirmationRequired(repeats)
            encounter = Encounter(
                id=ids.encounter_id(),
                kind=EncounterKind.DEVICE,
                psn_no=known.psn_no if known else unverified_psn_no(card),
                filing_no="",
                institution_code=ctx.institution.code,
                his_visit_id=key,
                admitted_at=request.fitted_at,
                insured_admdvs=known.insured_admdvs if known else "",
            )
            uow.encounters.add(encounter)
            listing = device_fee_list(ctx, uow, encounter, request, repeats)
            claim = ManualClaim(
                ids.manual_claim_id(),
                encounter.id,
                ManualClaimReason.UPSTREAM_UNAVAILABLE,
                DETAIL,
                listing,
                ctx.now(),
                actor,
                from_start=True,
            )
            uow.manual_claims.add(stored_claim(claim))
            uow.audit.append(
                actor=actor,
                action="device.fit_manual_claim",
                subject_type="encounter",
                subject_id=encounter.id,
                details={
                    "claim_id": claim.id,
                    "card": masked_card(card),
                    "approval_notice_no": request.approval_notice_no,
                    "items": [i.device_code for i in request.items],
                    "total": listing["medfee_sumamt"],
                    "claimed": listing["claimed_sumamt"],
                    "repeats_confirmed": [f"{f.code} ({f.field})" for f in repeats],
                },
            )
            uow.commit()
        return claim

    def _repeats(
        self, uow: UnitOfWork, request: FitDevices, worker: Person | None, filings: list[Filing]
    ) -> tuple[Finding, ...]:
        """The items an earlier fitting of the worker's already claims (:func:`.case_repeats`),
        the worker as the store last saw them: upstream cannot be asked."""
        ctx = self._ctx
        card = request.card
        psn_nos = [unverified_psn_no(card)]
        psn_nos += [f"?{n}"[:64] for n in (card.citizen_id, card.card_no) if n]
        if worker is not None:
            psn_nos = list(case_psn_nos(worker, card))
        notice = request.approval_notice_no
        earlier = earlier_with_cases(
            ctx,
            uow,
            worker.psn_no if worker is not None else "",
            psn_nos,
            notice,
            filings=filings,
        )
        filing = _notice_filing(filings, notice)
        fitted_on = ctx.local_date(request.fitted_at)
        return case_repeats(request.items, notice, filing, earlier, fitted_on)

    def _existing(self, uow: UnitOfWork, encounter_id: str) -> ManualClaim:
        claim_id = uow.manual_claims.id_of_encounter(encounter_id)
        if claim_id is None:  # switched to direct settlement meanwhile
            raise InvalidTransition(
                "本次配置已转为直接结算，请查看其结算单",
                code="DEVICE_MANUAL_CLAIM_SETTLED",
                article=DEVICE_OUTAGE_ARTICLE,
            )
        return load_claim(uow, claim_id)

    def switch_to_direct(
        self, claim_id: str, card: CardData, *, actor: str, replacement_confirmed: bool = False
    ) -> Fitted:
        """Upstream answers again before the fee list was handed over: identity, device filing
        and notice are checked with ``card`` (B§34) and the fitting is settled directly
        (WI2701 queued, N§34); the case is dropped (N§38, B§27)."""
        claim = self._claims.get(claim_id)
        if not claim.open_case:
            raise InvalidTransition(
                "费用清单已交付，本次配置已转参保地手工报销，不能再转为直接结算"
                "（N§38、B§27，杜绝重复报销）",
                code="MANUAL_CLAIM_HANDED_OVER",
                article=DEVICE_OUTAGE_ARTICLE,
            )
        if "fitting" not in claim.fee_list:
            raise InvalidMessage("该手工报销记录不是辅助器具配置", field="claim_id")
        # Priced now, as at any fitting: a replacement inside the minimum years that the worker
        # pays needs the counter's confirmation (附表2), as in DeviceFittings.fit.
        request = stored_request(claim, card, replacement_confirmed)
        try:
            return self._fittings.fit(
                request,
                actor=actor,
                case=DeviceCase(claim.id, claim.encounter_id, claim.created_at),
            )
        except PricingError as exc:
            if exc.code != "DEVICE_CODE_CASE":
                raise
            # The case's codes are its fee list's, as recorded: they cannot be entered again.
            raise PricingError(
                f"{exc.message}。本手工报销记录（{claim.id}）的器具编码按登记时录入，不能更改，"
                "不能转为直接结算：请交付费用清单，由参保地经办机构按手工报销审核",
                code="DEVICE_CODE_CASE",
                article=CODE_CASE_ARTICLE,
                field=exc.field,
            ) from exc


def _notice_filing(filings: Sequence[Filing], notice: str) -> Filing | None:
    """The device filing carrying ``notice``, however it is typed (B§34)."""
    return next(
        (
            f
            for f in filings
            if f.purpose is FilingPurpose.DEVICE and same_notice(f.approval_notice_no, notice)
        ),
        None,
    )


def _check_code_case(
    uow: UnitOfWork,
    request: FitDevices,
    worker: Person | None,
    filings: Sequence[Filing],
    on: date,
) -> None:
    """:func:`.check_code_case` against the notice's filing and the insured place's catalogue
    (district → city → province) as the store has them: upstream cannot be asked."""
    filing = _notice_filing(filings, request.approval_notice_no)
    notice = [d.device_code for d in filing.devices] if filing is not None else []
    regions = catalogue_regions(worker.insured_admdvs) if worker is not None else ()
    region = next((r for r in regions if uow.catalogue.has(CatalogueKind.DEVICE, r, on)), "")
    catalogue = uow.catalogue.device_catalogue(region) if region else None
    check_code_case(request.items, notice, catalogue, region, on)


def _stored_worker(uow: UnitOfWork, card: CardData, known: Person | None) -> Person | None:
    """The card's worker as the store last saw them: ``known`` (by citizen id), else the one
    worker whose citizen id or card number the card carries; upstream cannot be asked."""
    if known is not None:
        return known
    found = uow.persons.find_by_card([n for n in (card.citizen_id, card.card_no) if n])
    return found[0] if len(found) == 1 else None
