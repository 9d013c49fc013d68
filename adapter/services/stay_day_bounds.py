"""Per-day service standards at settlement: within the stay's days, and within the days a
readmission shares with the worker's other stays here (:mod:`adapter.domain.stay_days`,
N§32, N§33, N§37, B§30).

The neighbours are the worker's stays here (medical or rehab, as
:mod:`.stay_overlaps` finds them) settled or claimed by hand whose calendar days meet this
stay's — the fund or the insured place pays their days already; a stay whose settlement was
revoked pays none until settled again, and a stay still open is the open-stay rule's. A
stay claimed by hand before its discharge was noted ends at its claim (to the minute, as
:mod:`.stay_overlaps` reads it).

What a neighbour billed: a settled stay's days are its active settlement's snapshot (what
the fund paid; its lines cannot change while it stands, but their stored prices may be
priced again after a catalogue load), a claimed stay's its fee lines in the store, which its
fee list hands the insured place. A claimed stay with no fee lines here (its costs listed
by hand elsewhere) holds no day: it contributes nothing to the bound, and its days are left
to the insured place's reviewer.

Cost: the stay's per-day standards summed in one grouped read (as before); with any, one
indexed read of the worker's stays, and, with neighbours, one grouped read of theirs by
their keys — never a line read one by one in Python, whatever the stays' length.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.stay_days import (
    DayItem,
    Neighbour,
    StaySpan,
    first_over,
    first_shared_over,
    refuse_days_over_stay,
    refuse_days_shared,
    stay_span,
)
from adapter.services.context import ServiceContext
from adapter.services.stay_overlaps import to_the_minute
from adapter.store.uow import UnitOfWork


def check_stay_days(
    ctx: ServiceContext, uow: UnitOfWork, encounter: Encounter, discharged_at: datetime
) -> None:
    """Refuse a per-day standard billed for more days than the stay has
    (``FEE_DAYS_OVER_STAY``), or than its neighbours leave it (``FEE_DAYS_SHARED_WITH_STAY``)."""
    span = stay_span(encounter.admitted_at, discharged_at, ctx.zone)
    items = uow.fee_totals.day_items(encounter.id)
    if not items:
        return
    over = first_over(items, span.days)
    if over is not None:
        refuse_days_over_stay(over, uow.fee_totals.day_item_lines(encounter.id, over.code), span)
    neighbours = _neighbours(ctx, uow, encounter, span, items)
    shared = first_shared_over(items, span, neighbours)
    if shared is not None:
        line_ids = uow.fee_totals.day_item_lines(encounter.id, shared.item.code)
        refuse_days_shared(shared, line_ids, span)


def _neighbours(
    ctx: ServiceContext,
    uow: UnitOfWork,
    encounter: Encounter,
    span: StaySpan,
    items: list[DayItem],
) -> list[Neighbour]:
    """The worker's settled or claimed stays here sharing a calendar day with ``span``, with
    the days they billed of ``items``' standards."""
    since = datetime.combine(span.first, time(0), tzinfo=ctx.zone)
    before = datetime.combine(span.last + timedelta(days=1), time(0), tzinfo=ctx.zone)
    records = uow.encounters.closed_within(
        ctx.institution.code, encounter.psn_no, since, before, besides=encounter.id
    )
    if not records:
        return []
    others = [record.encounter for record in records]
    claimed = [o.id for o in others if o.status is EncounterStatus.MANUAL_CLAIM]
    settled = [o.id for o in others if o.status is EncounterStatus.SETTLED]
    paid = uow.fee_totals.paid_days(settled, claimed, [item.code for item in items])
    neighbours = []
    for other, record in zip(others, records, strict=True):
        if other.discharged_at is not None:
            ended = other.discharged_at
            end = f"{ctx.wall_time(ended)}出院"
        else:  # claimed by hand before its discharge was noted: its days end at the claim
            ended = to_the_minute(record.updated_at)
            end = f"{ctx.wall_time(ended)}转手工报销"
        described = (
            f"{other.kind.label}（就诊编号{other.id}，HIS住院号{other.his_visit_id}，"
            f"{ctx.wall_time(other.admitted_at)}入院至{end}，状态“{other.status.label}”）"
        )
        neighbours.append(
            Neighbour(
                stay_span(other.admitted_at, ended, ctx.zone),
                described,
                claimed=other.status is EncounterStatus.MANUAL_CLAIM,
                billed=paid.get(other.id, {}),
            )
        )
    return neighbours
