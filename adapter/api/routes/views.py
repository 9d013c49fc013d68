"""Response models built from the services' results: encounters, priced fees, settlements.

Tables never leave the store; these are the JSON shapes of interfaces.md §1, with money as
strings to the fen and every rule named with its article.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from pydantic import Field

from adapter.api.routes.common import FindingOut, Money, Out, Quantity, UnitPrice, UploadOut
from adapter.domain.encounters import Encounter
from adapter.domain.fees import FeeLine
from adapter.domain.pricing import PricedLine
from adapter.domain.settlement import Bill, Breakdown, Settlement
from adapter.services.billing import PricedFees
from adapter.services.payloads import diagnosis_of
from adapter.services.views import EncounterView
from adapter.store.repositories import StoredFeeLine


class DiagnosisOut(Out):
    code: str
    name: str


class EncounterOut(Out):
    id: str
    kind: str
    status: str
    status_label: str
    his_visit_id: str
    psn_no: str
    filing_no: str
    insured_admdvs: str
    admitted_at: datetime
    discharged_at: datetime | None
    department: str
    diagnoses: list[DiagnosisOut]
    injury_parts: list[str]

    @classmethod
    def of(cls, encounter: Encounter) -> EncounterOut:
        return cls(
            id=encounter.id,
            kind=encounter.kind.value,
            status=encounter.status.value,
            status_label=encounter.status.label,
            his_visit_id=encounter.his_visit_id,
            psn_no=encounter.psn_no,
            filing_no=encounter.filing_no,
            insured_admdvs=encounter.insured_admdvs,
            admitted_at=encounter.admitted_at,
            discharged_at=encounter.discharged_at,
            department=encounter.department,
            diagnoses=[
                DiagnosisOut(code=d.code, name=d.name)
                for d in (diagnosis_of(t) for t in encounter.diagnoses)
            ],
            injury_parts=list(encounter.injury_parts),
        )


class AdmissionOut(EncounterOut):
    replayed: bool = False
    warnings: list[FindingOut] = Field(default_factory=list)
    upload: UploadOut | None = None
    manual_claim_id: str = ""  # upstream down: recorded as a manual-claim case (N§38, B§27)


class RuleOut(Out):
    code: str
    article: str
    message: str


class LineOut(Out):
    his_line_id: str
    item_code: str
    item_name: str
    category: str
    quantity: Quantity
    unit_price: UnitPrice
    amount: Money
    occurred_at: datetime
    work_injury: bool
    reverses: str
    fund_pay: Money | None = None
    personal_pay: Money | None = None
    personal_reason: str | None = None
    rule: RuleOut | None = None
    catalogue_code: str | None = None
    catalogue_name: str | None = None
    mapping_status: str = "mapped"

    @classmethod
    def fee(cls, line: FeeLine, **extra: Any) -> LineOut:
        return cls(
            his_line_id=line.line_id,
            item_code=line.item_code,
            item_name=line.item_name,
            category=line.category.value,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            occurred_at=line.occurred_at,
            work_injury=line.work_injury,
            reverses=line.reverses,
            **extra,
        )

    @classmethod
    def priced(cls, priced: PricedLine, stored: StoredFeeLine | None = None) -> LineOut:
        line = stored.line if stored else priced.line
        return cls.fee(
            line,
            fund_pay=priced.fund_pay,
            personal_pay=priced.personal_pay,
            personal_reason=priced.reason.value if priced.reason else None,
            rule=RuleOut(
                code=priced.rule.code, article=priced.rule.article, message=priced.message
            ),
            catalogue_code=priced.item.code if priced.item else None,
            catalogue_name=priced.item.name if priced.item else None,
            mapping_status=stored.mapping_status.value if stored else "mapped",
        )


class TotalsOut(Out):
    total: Money
    fund_pay: Money
    personal_pay: Money
    out_of_catalogue: Money
    over_limit: Money
    non_work_injury: Money
    excluded_total: Money

    @classmethod
    def of(cls, b: Breakdown) -> TotalsOut:
        return cls(
            total=b.total,
            fund_pay=b.fund_pay,
            personal_pay=b.personal_pay,
            out_of_catalogue=b.out_of_catalogue,
            over_limit=b.over_limit,
            non_work_injury=b.non_work_injury,
            excluded_total=b.excluded_total,
        )


class FeesOut(Out):
    lines: list[LineOut]
    excluded: list[LineOut]
    unmapped: list[str]
    totals: TotalsOut

    @classmethod
    def of(cls, fees: PricedFees) -> FeesOut:
        stored = {s.line.line_id: s for s in fees.stored}
        return cls(
            lines=[LineOut.priced(p, stored.get(p.line.line_id)) for p in fees.bill.lines],
            excluded=[LineOut.fee(line) for line in fees.bill.excluded],
            unmapped=[s.line.line_id for s in fees.unmapped],
            totals=TotalsOut.of(Breakdown.of(fees.bill.lines, fees.bill.excluded)),
        )


class CategoryOut(Out):
    category: str
    total: Money
    fund_pay: Money
    personal_pay: Money


class BillOut(TotalsOut):
    breakdown: TotalsOut
    # The settlement's day: the local date of its settlement time (for a presettlement, of
    # now), which decides its month (N§35). Not the discharge date, which is discharged_on.
    settles_on: date
    discharged_on: date
    crosses_year: bool
    notes: list[str]
    lines: list[LineOut]
    excluded: list[LineOut]
    by_category: list[CategoryOut]

    @classmethod
    def bill(
        cls,
        bill: Bill,
        *,
        settles_on: date,
        first: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The answer's fields; ``first``: only that many of the priced lines."""
        b = bill.breakdown
        lines = bill.lines if first is None else bill.lines[:first]
        return {
            **TotalsOut.of(b).model_dump(),
            "breakdown": TotalsOut.of(b),
            "settles_on": settles_on,
            "discharged_on": bill.discharged_on,
            "crosses_year": bill.crosses_year,
            "notes": list(bill.notes),
            "lines": [LineOut.priced(p) for p in lines],
            "excluded": [LineOut.fee(line) for line in bill.excluded],
            "by_category": [
                CategoryOut(
                    category=c.category,
                    total=c.total,
                    fund_pay=c.fund_pay,
                    personal_pay=c.personal_pay,
                )
                for c in bill.by_category()
            ],
            **extra,
        }


class PresettleOut(BillOut):
    encounter_id: str
    unmapped: list[str]
    can_settle: bool  # settling with this discharge time would not be refused for it or the bill
    # What settle would refuse with this discharge time, each as its refusal says it (the
    # code, Chinese message, article and field of the settle's 422), in settle's order.
    blocking: list[FindingOut]


class SettlementOut(BillOut):
    id: str
    encounter_id: str
    kind: str
    slip_no: str
    status: str
    settled_at: datetime
    operator: str
    revoked_at: datetime | None
    revoke_reason: str
    upload: UploadOut | None = None
    warnings: list[FindingOut] = Field(default_factory=list)
    replayed: bool = False
    lines_total: int = Field(
        0, description="结算的计价明细总条数 / how many priced lines the settlement has"
    )
    lines_next: str | None = Field(
        None,
        description=(
            "下一页明细的地址（lines 已是全部明细时为 null） / the URL of the next page of "
            "lines (GET /api/v1/settlements/{id}/lines), null when lines holds them all"
        ),
    )

    @classmethod
    def settled(
        cls,
        settlement: Settlement,
        zone: tzinfo,
        *,
        page: int | None = None,
        **extra: Any,
    ) -> SettlementOut:
        """The settlement's answer; with ``page``, only its first ``page`` lines (the rest
        through ``lines_next``), so a 10,000-line stay is not one 5 MB answer. A stay just
        settled carries no more lines than that (its bill is summed: ``line_count``)."""
        total = settlement.bill.line_count
        following = None
        if page is not None and total > page:
            following = lines_url(settlement.id, after=page - 1, limit=page)
        return cls(
            **cls.bill(
                settlement.bill,
                first=page,
                lines_total=total,
                lines_next=following,
                settles_on=settlement.settled_on(zone),
                id=settlement.id,
                encounter_id=settlement.encounter.id,
                kind=settlement.encounter.kind.value,
                slip_no=settlement.slip_no,
                status=settlement.status.value,
                settled_at=settlement.settled_at,
                operator=settlement.operator,
                revoked_at=settlement.revoked_at,
                revoke_reason=settlement.revoke_reason,
                **extra,
            )
        )


def lines_url(settlement_id: str, *, after: int, limit: int) -> str:
    """Where the settlement's lines after position ``after`` are read, ``limit`` at a time."""
    return f"/api/v1/settlements/{settlement_id}/lines?after={after}&limit={limit}"


class SettlementLinesOut(Out):
    """A page of a settlement's priced lines, in line order."""

    lines: list[LineOut]
    lines_total: int = Field(
        description="结算的计价明细总条数 / how many priced lines the settlement has"
    )
    lines_next: str | None = Field(
        description="下一页的地址，已到最后一页时为 null / the next page's URL, null after the last"
    )

    @classmethod
    def page(
        cls, settlement_id: str, total: int, lines: list[tuple[int, PricedLine]], limit: int
    ) -> SettlementLinesOut:
        last = lines[-1][0] if lines else None
        following = None
        # positions run 0 … total - 1: a page ending before the last line has a next one
        if last is not None and last < total - 1:
            following = lines_url(settlement_id, after=last, limit=limit)
        return cls(
            lines=[LineOut.priced(line) for _, line in lines],
            lines_total=total,
            lines_next=following,
        )


class RehabPlanOut(Out):
    revision: int
    plan: dict[str, Any]
    msgid: str
    saved_at: datetime
    saved_by: str
    acknowledged: bool
    upload: UploadOut | None = None


class UploadStateOut(Out):
    infno: str
    msgid: str
    job_id: int
    deadline: datetime = Field(
        description="due by: the queue's deadline, brought forward when a later upload of the"
        " stay is due sooner (it cannot go before this one)"
    )
    settlement_id: str
    delivered: bool


class EncounterDetailOut(EncounterOut):
    version: int
    ready_to_settle: bool
    fees: FeesOut
    rehab_plan: RehabPlanOut | None
    settlement: SettlementOut | None
    settlement_ids: list[str]
    uploads: list[UploadStateOut]

    @classmethod
    def view(cls, view: EncounterView, zone: tzinfo) -> EncounterDetailOut:
        plan = view.rehab_plan
        return cls(
            **EncounterOut.of(view.encounter).model_dump(),
            version=view.version,
            ready_to_settle=view.ready_to_settle,
            fees=FeesOut.of(view.fees),
            rehab_plan=RehabPlanOut(
                revision=plan.revision,
                plan=dict(plan.plan),
                msgid=plan.msgid,
                saved_at=plan.saved_at,
                saved_by=plan.saved_by,
                acknowledged=view.rehab_plan_acknowledged,
            )
            if plan
            else None,
            settlement=SettlementOut.settled(view.settlement, zone) if view.settlement else None,
            settlement_ids=[s.id for s in view.settlements],
            uploads=[
                UploadStateOut(
                    infno=u.upload.infno,
                    msgid=u.upload.msgid,
                    job_id=u.upload.job_id,
                    deadline=u.due,
                    settlement_id=u.upload.settlement_id,
                    delivered=u.delivered,
                )
                for u in view.uploads
            ],
        )
