"""The itemised fee list of a manual claim (手工报销费用清单): every line of the stay as it
would have been priced, for the worker to take to the insured place, whose review needs it as
proof (N§38, B§27, B§50, B§53). Its note also closes the device counter's list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.fees import FeeLine
from adapter.domain.people import mask_citizen_id
from adapter.domain.pricing import PricedLine
from adapter.domain.settlement import Breakdown
from adapter.services import payloads
from adapter.services.billing import PricedFees, price_encounter
from adapter.services.context import ServiceContext
from adapter.store.uow import UnitOfWork

NOTE = (
    "本次费用未能跨省异地直接结算，已转参保地经办机构手工报销；"
    "本机构不再对该次就诊办理直接结算，杜绝重复报销（N§38、B§27）。"
    "住院伙食补助费、转诊交通食宿费由参保地按规定报销（N§3、B§30）。"
)


def fee_list(ctx: ServiceContext, uow: UnitOfWork, encounter_id: str) -> dict[str, Any]:
    """The itemised list for the insured place: every line, as it would have been priced.

    A device fitting takes no fee lines (its costs are the items entered at the counter): one
    whose direct settlement was revoked before it went to a manual claim lists the items of
    that settlement, as priced against the insured place's catalogue and limits (N§34, B§35),
    and the notice they were fitted under, which the hand-over checks against any direct
    fitting of them (N§38, B§27). Pricing its fee lines would list nothing: 0.00 claimed
    for a fitting the worker paid in full."""
    encounter = uow.encounters.get(encounter_id).encounter
    person = uow.persons.get(encounter.psn_no)
    fitting: dict[str, Any] | None = None
    excluded: tuple[FeeLine, ...] = ()
    unmapped: list[str] = []
    settled = (
        uow.settlements.list_for_encounter(encounter_id)
        if encounter.kind is EncounterKind.DEVICE
        else []
    )
    if settled:
        lines = settled[-1].bill.lines
        fitting = _fitting(uow, encounter, lines)
    else:
        fees: PricedFees = price_encounter(ctx, uow, encounter_id)
        lines, excluded = fees.bill.lines, fees.bill.excluded
        unmapped = [s.line.line_id for s in fees.unmapped]
    totals = Breakdown.of(lines, excluded)
    listing = {
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
        "lines": payloads.feedetail(lines, size=ctx.policy.fee_batch_size, zone=ctx.zone),
        "excluded": [
            {
                "feedetl_sn": line.line_id,
                "item_name": line.item_name,
                "category": line.category.value,
                "amount": payloads.money(line.amount),
            }
            for line in excluded
        ],
        "unmapped": unmapped,
        **payloads.settlement_totals(totals),
        "title": "工伤保险跨省异地就医费用清单（手工报销）",
        "manual_claim": True,
        "note": NOTE,
    }
    if fitting is not None:
        listing["fitting"] = fitting
    return listing


def _fitting(uow: UnitOfWork, encounter: Encounter, lines: Sequence[PricedLine]) -> dict[str, Any]:
    """The fitting a revoked device settlement settled: its notice and items."""
    filing = uow.filings.get(encounter.filing_no)
    return {
        "approval_notice_no": filing.approval_notice_no if filing is not None else "",
        "fitted_at": encounter.admitted_at.isoformat(),
        "items": [
            {
                "device_code": p.line.item_code,
                "device_name": p.line.item_name,
                "actual_cost": payloads.money(p.amount),
            }
            for p in lines
        ],
    }
