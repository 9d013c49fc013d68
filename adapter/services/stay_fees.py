"""What a fee batch, or a clerk's mapping, is answered with: the lines it names as priced (who
pays and why) and the stay's totals summed by the database from the stored prices.

Answering with the whole stay re-read and re-priced made every 200-line batch into a
10,000-line stay cost, and answer, 10,000 lines; the stay's lines are read with
``GET /api/v1/encounters/{id}``. The totals are the ones a settlement sums (a line priced
before a catalogue load is priced again and stored first, as settling does), so they are,
to the fen, what presettle says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapter.domain.settlement import Breakdown
from adapter.services.billing import PricedFees, priced_fees, store_stale_prices
from adapter.services.context import ServiceContext
from adapter.services.locks import lock_encounter
from adapter.store.repositories import MappingStatus


@dataclass(frozen=True)
class StayFees:
    named: PricedFees  # the lines the batch (or mapping) named, as priced, in arrival order
    totals: Breakdown  # the stay's
    line_count: int  # how many lines the stay holds, excluded ones included
    unmapped: tuple[str, ...]  # the stay's lines the billing clerk has still to map


def stay_fees(
    ctx: ServiceContext,
    encounter_id: str,
    line_ids: Sequence[str],
    *,
    with_reversals: bool = False,
) -> StayFees:
    """The stay's totals and ``line_ids`` priced (``with_reversals``: and the reversals of
    each, which a mapping prices again)."""
    with ctx.uow(immediate=True) as uow:
        lock_encounter(uow, encounter_id)
        uow.encounters.get(encounter_id)
        store_stale_prices(ctx, uow, encounter_id)
        ids = set(line_ids)
        if with_reversals:
            for line_id in line_ids:
                ids.update(
                    r.line.line_id for r in uow.fee_lines.reversals_of(encounter_id, line_id)
                )
        named = uow.fee_lines.list_priced(encounter_id, ids)
        sums = uow.fee_totals.sums(encounter_id)
        excluded = uow.fee_totals.excluded(encounter_id) if sums.excluded else []
        unmapped = uow.fee_lines.list_stored(encounter_id, status=MappingStatus.UNMAPPED)
        uow.commit()
    return StayFees(
        priced_fees(named),
        Breakdown.of_groups(sums.groups, excluded),
        sum(group.count for group in sums.groups) + sums.excluded,
        tuple(s.line.line_id for s in unmapped),
    )
