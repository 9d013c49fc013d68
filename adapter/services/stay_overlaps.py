"""One worker, one stay at a time: a stay whose days overlap one already settled or claimed
by hand here is refused (N§33, N§38, B§27).

A HIS that registers a visit again under a new number, or a clerk back-dating an admission,
made a second stay of days the fund had paid (or the insured place was asked to reimburse by
hand): their bed days and care were paid twice. The check runs at admission (the admission
time inside the other stay) and at settlement (the stay's whole time, admission to discharge,
which also catches a stay back-dated to before the other began). A readmission at the very
time of the other's discharge does not overlap; a stay turned into a manual claim before its
discharge was noted holds its days until the claim. Stays still open are the open-stay rule's
(:class:`~adapter.services.admission.OpenStayExists`, either inpatient kind), but for two
admissions of different kinds at once on PostgreSQL, which both pass it: settling the second
of them is refused here."""

from __future__ import annotations

from datetime import datetime

from adapter.domain.errors import InvalidTransition
from adapter.services.context import ServiceContext
from adapter.store.uow import UnitOfWork

ARTICLE = "N§33, N§38, B§27"


class StayOverlaps(InvalidTransition):
    """The stay's days overlap another of the worker's stays here, settled or claimed."""

    code = "STAY_OVERLAPS"
    article = ARTICLE


def refuse_overlap(
    ctx: ServiceContext,
    uow: UnitOfWork,
    psn_no: str,
    start: datetime,
    end: datetime | None = None,
    *,
    besides: str = "",
) -> None:
    """Raise :class:`StayOverlaps` naming the other stay, if ``start`` … ``end`` (one moment
    when ``end`` is not given: an admission) overlaps one of ``psn_no``'s stays here that
    was settled or claimed by hand (other than ``besides``)."""
    for record in uow.encounters.closed_overlapping(
        ctx.institution.code, psn_no, start, end or start, besides=besides
    ):
        other = record.encounter
        if other.discharged_at is not None:
            until = ctx.wall_time(other.discharged_at)
        else:  # claimed by hand before its discharge was noted: its days end at the claim
            claimed = to_the_minute(record.updated_at)
            if claimed <= start:
                continue
            until = f"{ctx.wall_time(claimed)}转手工报销"
        raise StayOverlaps(
            f"该工伤职工在本机构的{other.kind.label}（就诊编号{other.id}，HIS住院号"
            f"{other.his_visit_id}，{ctx.wall_time(other.admitted_at)}至{until}，状态"
            f"“{other.status.label}”）与本次住院时间重叠：同一时间只能有一次住院，其费用已结算或"
            "已转手工报销，不能再次结算（N§33、N§38、B§27）。请核对入院、出院时间",
            code="STAY_OVERLAPS",
            article=ARTICLE,
            field="discharged_at" if end is not None else "admitted_at",
        )


def to_the_minute(moment: datetime) -> datetime:
    """A claim's moment as the desks' times are written (to the minute): a readmission typed
    in the minute of the claim is after it, as one at the very time of a discharge is."""
    return moment.replace(second=0, microsecond=0)
