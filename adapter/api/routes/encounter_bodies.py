"""Request bodies of the encounter routes (and one response), kept apart from the routes."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from adapter.api.routes.common import (
    CardIn,
    FindingOut,
    MoneyIn,
    Out,
    QuantityIn,
    Strict,
    examples,
)
from adapter.api.routes.views import FeesOut, TotalsOut
from adapter.domain.commands import Diagnosis
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.text import MAX_DIAGNOSES, MAX_FEE_LINES, MAX_INJURY_PARTS, MAX_REHAB_ITEMS
from adapter.services.stay_fees import StayFees

InjuryPart = Annotated[str, StringConstraints(max_length=64)]


class DiagnosisIn(Strict):
    code: str = Field(min_length=1, max_length=32, examples=["S62.301"])
    name: str = Field("", max_length=200, examples=["左手第三掌骨骨折"])

    free_text: ClassVar[frozenset[str]] = frozenset({"name"})


class AdmitIn(Strict):
    card: CardIn
    his_visit_id: str = Field(min_length=1, max_length=64)
    kind: Literal["medical", "rehab"]
    admitted_at: AwareDatetime
    department: str = Field("", max_length=100)
    diagnoses: list[DiagnosisIn] = Field(default_factory=list, max_length=MAX_DIAGNOSES)
    injury_parts: list[InjuryPart] = Field(
        default_factory=list,
        max_length=MAX_INJURY_PARTS,
        description="the injured parts this stay treats, one or more of the filed ones (N§16); "
        "an entry may list several (左手、右前臂). Naming none where the filing lists parts is "
        "refused (EL_INJURY_PARTS_NAMED)",
    )
    manual_claim_if_upstream_down: bool = Field(
        False,
        description="upstream down: record the stay as a manual-claim case (N§38, B§27) "
        "instead of refusing it",
    )

    model_config = examples(
        {
            "card": {"kind": "physical", "card_no": "310100A0001"},
            "his_visit_id": "ZY20261124001",
            "kind": "medical",
            "admitted_at": "2026-11-20T09:00:00+08:00",
            "department": "骨科",
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        }
    )


class FeeLineIn(Strict):
    his_line_id: str = Field(min_length=1, max_length=64)
    item_code: str = Field(min_length=1, max_length=64)
    item_name: str = Field("", max_length=300)
    category: Literal["drug", "treatment", "service", "rehab", "device", "meal", "transport"]
    quantity: QuantityIn = Field(description="negative: reverses its original")
    unit_price: QuantityIn = Field(ge=0)
    amount: MoneyIn
    occurred_at: AwareDatetime
    work_injury: bool = Field(True, description="false: non-work-injury treatment (B§29)")
    reverses: str = Field("", max_length=64, description="his_line_id of the original")
    department: str = Field("", max_length=100)
    unit: str = Field("", max_length=32)

    def to_domain(self) -> FeeLine:
        return FeeLine(
            line_id=self.his_line_id.strip(),
            item_code=self.item_code.strip(),
            item_name=self.item_name,
            category=FeeCategory(self.category),
            quantity=self.quantity,
            unit_price=self.unit_price,
            amount=self.amount,
            occurred_at=self.occurred_at,
            work_injury=self.work_injury,
            reverses=self.reverses.strip(),
            department=self.department,
            unit=self.unit,
        )


class FeesIn(Strict):
    lines: list[FeeLineIn] = Field(min_length=1, max_length=MAX_FEE_LINES)

    model_config = examples(
        {
            "lines": [
                {
                    "his_line_id": "FY0001",
                    "item_code": "XN02BEB001",
                    "item_name": "布洛芬缓释胶囊",
                    "category": "drug",
                    "quantity": "2",
                    "unit_price": "18.25",
                    "amount": "36.50",
                    "occurred_at": "2026-11-21T10:00:00+08:00",
                    "work_injury": True,
                }
            ]
        }
    )


def stay_lines_url(encounter_id: str, *, offset: int | None = None, limit: int = 0) -> str:
    """Where the stay's lines are read, priced, a page at a time (no ``offset``: its first
    page of the default size)."""
    url = f"/api/v1/encounters/{encounter_id}/fees"
    return url if offset is None else f"{url}?offset={offset}&limit={limit}"


class StayFeesOut(FeesOut):
    """A fee batch's (or a mapping's) answer: ``lines`` and ``excluded`` are the lines it
    named, priced; ``unmapped`` and ``totals`` are the stay's."""

    lines_total: int = Field(
        description="该就诊的费用明细总条数（lines 只含本批明细） / how many lines the stay holds "
        "(lines holds this batch's only)"
    )
    stay_lines: str = Field(
        description="该就诊全部明细（逐条计价、分页）的地址 / where the stay's lines are read, "
        "priced, a page at a time: GET /api/v1/encounters/{id}/fees"
    )

    @classmethod
    def stay(cls, encounter_id: str, fees: StayFees) -> StayFeesOut:
        named = FeesOut.of(fees.named)
        return cls(
            lines=named.lines,
            excluded=named.excluded,
            unmapped=list(fees.unmapped),
            totals=TotalsOut.of(fees.totals),
            lines_total=fees.line_count,
            stay_lines=stay_lines_url(encounter_id),
        )


class StayFeesPageOut(FeesOut):
    """A page of the stay's lines in arrival order (the order of ``GET
    /api/v1/encounters/{id}``'s ``fees.lines``), excluded ones counted in their place:
    ``lines`` and ``excluded`` are the page's, priced; ``unmapped`` and ``totals`` the
    stay's."""

    encounter_id: str
    lines_total: int = Field(
        description="该就诊的费用明细总条数（含不计入结算的伙食补助、交通费） / how many lines "
        "the stay holds, excluded ones included"
    )
    offset: int = Field(description="本页第一条明细的序号（从 0 起） / the page's first position")
    # not ``limit``: in every answer a ``limit`` is an amount (a device's payment limit)
    page_limit: int = Field(
        description="本页最多条数（查询参数 limit，或其默认值） / at most this many lines per page "
        "(the query's limit, or its default)"
    )
    next: str | None = Field(
        description="下一页的地址，已到最后一页时为 null / the next page's URL, null after the last"
    )

    @classmethod
    def page(cls, encounter_id: str, fees: StayFees, *, offset: int, limit: int) -> StayFeesPageOut:
        named = FeesOut.of(fees.named)
        following = None
        if offset + limit < fees.line_count:
            following = stay_lines_url(encounter_id, offset=offset + limit, limit=limit)
        return cls(
            encounter_id=encounter_id,
            lines=named.lines,
            excluded=named.excluded,
            unmapped=list(fees.unmapped),
            totals=TotalsOut.of(fees.totals),
            lines_total=fees.line_count,
            offset=offset,
            page_limit=limit,
            next=following,
        )


class FeesRecordedOut(Out):
    encounter_id: str
    added: list[str]
    ignored: list[str] = Field(description="repeated his_line_id: already recorded")
    unmapped: list[str] = Field(description="items not in the catalogue: for the billing clerk")
    reversals: dict[str, str]
    fees: StayFeesOut
    warnings: list[FindingOut] = Field(
        default_factory=list,
        description="what the sender should know (FEE_UNMAPPED per unmapped line), "
        "as the HL7 ACK's ERR segments with severity W",
    )
    replayed: bool = Field(
        False, description="every line id was already recorded: nothing changed (a resend)"
    )


class MappingIn(Strict):
    catalogue_code: str | None = Field(None, max_length=64, examples=["XJ01DCC061"])
    out_of_catalogue: bool = Field(False, description="confirm as 目录外: the worker pays")


class RehabItemIn(Strict):
    item_code: str = Field(min_length=1, max_length=64)
    item_name: str = Field("", max_length=200)
    frequency: str = Field("", max_length=64)
    sessions: int | None = Field(None, ge=0)


class RehabPlanIn(Strict):
    goals: str = Field(min_length=1, max_length=2000)
    items: list[RehabItemIn] = Field(min_length=1, max_length=MAX_REHAB_ITEMS)
    frequency: str = Field("", max_length=64)
    expected_days: int = Field(ge=1, le=3650)

    free_text: ClassVar[frozenset[str]] = frozenset({"goals"})

    model_config = examples(
        {
            "goals": "恢复右上肢肌力，生活自理",
            "items": [{"item_code": "340200001", "item_name": "运动疗法", "frequency": "每日1次"}],
            "frequency": "每日",
            "expected_days": 30,
        }
    )


class PresettleIn(Strict):
    discharged_at: AwareDatetime | None = None


class OverrideIn(Strict):
    reason: str = Field(min_length=2, max_length=500)

    free_text: ClassVar[frozenset[str]] = frozenset({"reason"})


class SettleIn(Strict):
    discharged_at: AwareDatetime
    discharge_diagnoses: list[DiagnosisIn] = Field(default_factory=list, max_length=MAX_DIAGNOSES)
    card: CardIn | None = Field(None, description="the card shown again at discharge, if read")
    rehab_plan_override: OverrideIn | None = Field(
        None,
        description="the supervisor role (结算主管) settles before the plan is acknowledged (N§33)",
    )

    model_config = examples(
        {
            "discharged_at": "2026-11-24T10:00:00+08:00",
            "discharge_diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        }
    )


class CancelIn(Strict):
    reason: str = Field("", max_length=500)

    free_text: ClassVar[frozenset[str]] = frozenset({"reason"})


def diagnoses(items: list[DiagnosisIn]) -> tuple[Diagnosis, ...]:
    return tuple(Diagnosis(d.code.strip(), d.name.strip()) for d in items)
