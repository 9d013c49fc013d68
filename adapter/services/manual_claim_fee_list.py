"""The itemised fee list of a manual claim (手工报销费用清单): every line of the stay as it
would have been priced, for the worker to take to the insured place, whose review needs it as
proof (N§38, B§27, B§50, B§53). Its note also closes the device counter's list."""

from __future__ import annotations

from typing import Any

from adapter.domain.people import mask_citizen_id
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
        "lines": payloads.feedetail(fees.bill.lines, size=ctx.policy.fee_batch_size, zone=ctx.zone),
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
        "title": "工伤保险跨省异地就医费用清单（手工报销）",
        "manual_claim": True,
        "note": NOTE,
    }
