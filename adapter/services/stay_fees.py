"""What a fee batch, or a clerk's mapping, is answered with: the lines it names as priced (who
pays and why) and the stay's totals summed by the database from the stored prices; and a
page of the stay's lines (``GET /api/v1/encounters/{id}/fees``), with the same totals.

Answering with the whole stay re-read and re-priced made every 200-line batch into a
10,000-line stay cost, and answer, 10,000 lines; the stay's lines are read a page at a time.
The totals are the ones a settlement sums (a line priced before a catalogue load is priced
again and stored first, as settling does), so they are, to the fen, what presettle says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from adapter.domain.settlement import Breakdown
from adapter.services.billing import PricedFees, priced_fees, stale_lines, store_stale_prices
from adapter.services.context import ServiceContext
from adapter.services.locks import lock_encounter
from adapter.store.repositories import MappingStatus, StoredFeeLine
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class StayFees:
    named: PricedFees  # the lines the batch (or mapping) named, or the page, in arrival order
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
        fees = _with_totals(uow, encounter_id, uow.fee_lines.list_priced(encounter_id, ids))
        uow.commit()
    return fees


def stay_fee_page(ctx: ServiceContext, encounter_id: str, *, offset: int, limit: int) -> StayFees:
    """The stay's lines ``offset`` … ``offset + limit - 1`` (arrival order, excluded ones
    included) as priced, and the stay's totals. Its stored prices are its bill unless one is
    out of date (after a mapping or a catalogue load, usually none): those are priced and
    stored first, under the stay's lock, as a fee batch does, so no page reads the stay's
    lines to price them."""
    with ctx.uow() as uow:
        uow.encounters.get(encounter_id)
        if not stale_lines(ctx, uow, encounter_id):
            page = uow.fee_totals.page(encounter_id, offset=offset, limit=limit)
            return _with_totals(uow, encounter_id, page)
    with ctx.uow(immediate=True) as uow:
        lock_encounter(uow, encounter_id)
        store_stale_prices(ctx, uow, encounter_id)
        page = uow.fee_totals.page(encounter_id, offset=offset, limit=limit)
        fees = _with_totals(uow, encounter_id, page)
        uow.commit()
    return fees


def _with_totals(uow: UnitOfWork, encounter_id: str, named: Sequence[StoredFeeLine]) -> StayFees:
    """``named`` (priced, stored) as the answer gives them, with the stay's totals, summed by
    the database (its excluded lines' too: none is read), and its unmapped lines (by
    index)."""
    sums = uow.fee_totals.sums(encounter_id)
    unmapped = uow.fee_lines.list_stored(encounter_id, status=MappingStatus.UNMAPPED)
    return StayFees(
        priced_fees(named),
        replace(Breakdown.of_groups(sums.groups), excluded_total=sums.excluded_total),
        sum(group.count for group in sums.groups) + sums.excluded,
        tuple(s.line.line_id for s in unmapped),
    )
