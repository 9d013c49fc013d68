"""The settlement slip (工伤保险跨省异地就医结算单, N附件10) as data both layouts print.

The layout is not published, so it is built from the filing forms' fields (附表1/附表2) and
the settlement (docs/domain.md "The forms"): slip number, institution, worker (citizen ID
masked), insured place, filing number and category, treatment place, dates, diagnoses,
injury parts, totals with the personal part split three ways, itemised lines with who pays
and why, the lines outside direct settlement, operator and time, the note that meal subsidy
and transport are reimbursed by the insured place, and a signature line.

Every figure is the settlement's own ``Decimal``: nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from adapter.domain.device_totals import DeviceTotal, device_totals, out_of_catalogue_parts
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory
from adapter.domain.people import mask_citizen_id
from adapter.domain.pricing import PersonalReason, PricedLine
from adapter.domain.settlement import Breakdown, CategoryTotal, Settlement, SettlementStatus
from adapter.services.container import Services
from adapter.services.payloads import diagnosis_of

TITLE = "工伤保险跨省异地就医结算单"
EXCLUDED_NOTE = (
    "住院伙食补助费、转诊转院交通食宿费不纳入直接结算，由工伤职工持相关材料回参保地经办机构"
    "按规定审核报销（N§3、B§30）。"
)
SIGNATURE = "工伤职工（或代办人）签字：＿＿＿＿＿＿＿＿　　日期：＿＿＿＿年＿＿月＿＿日"


@dataclass(frozen=True)
class SlipLine:
    category: str  # 费用类别
    name: str  # 项目名称
    unit: str
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    in_catalogue: bool  # 目录内 / 目录外
    reason: str  # why the worker pays a part (the rule's message and article), else ""

    @property
    def catalogue_label(self) -> str:
        return "目录内" if self.in_catalogue else "目录外"

    @property
    def payer(self) -> str:
        """Who pays the line, in the receipt's words."""
        if self.personal_pay == 0:
            return "基金支付"
        if self.fund_pay == 0:
            return "个人自付"
        return "基金、个人分担"


@dataclass(frozen=True)
class ExcludedLine:
    category: str
    name: str
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Slip:
    settlement_id: str
    slip_no: str
    status: SettlementStatus
    revoked_at: datetime | None
    revoke_reason: str
    institution_name: str
    institution_code: str
    treatment_admdvs: str
    name: str
    gender: str
    citizen_id: str  # masked
    psn_no: str
    insured_admdvs: str
    filing_no: str
    person_category: str
    filing_valid: str
    kind_label: str
    his_visit_id: str
    department: str
    admitted_on: date
    discharged_on: date
    diagnoses: tuple[str, ...]
    injury_parts: tuple[str, ...]
    totals: Breakdown
    by_category: tuple[CategoryTotal, ...]
    lines: tuple[SlipLine, ...]
    excluded: tuple[ExcludedLine, ...]
    notes: tuple[str, ...]
    operator: str
    settled_at: datetime
    device_notice_no: str = ""
    # A fitting: each item once with its lines summed and its limit (N§34, B§35), and the
    # out-of-catalogue part split by its reasons (未列入核付通知单, 最低使用年限内更换).
    devices: tuple[DeviceTotal, ...] = ()
    out_of_catalogue_parts: tuple[tuple[str, Decimal], ...] = ()

    title = TITLE
    excluded_note = EXCLUDED_NOTE
    signature = SIGNATURE

    @property
    def is_device(self) -> bool:
        return self.kind_label == "辅助器具配置"

    @property
    def receipt_totals(self) -> tuple[tuple[str, Decimal], ...]:
        """The totals as the 80 mm receipt prints them: one label and amount per line."""
        t = self.totals
        return (
            ("医疗费用总额", t.total),
            ("基金支付", t.fund_pay),
            ("个人支付", t.personal_pay),
            ("其中：目录外", t.out_of_catalogue),
            ("　　　超标准/超限额", t.over_limit),
            ("　　　非工伤", t.non_work_injury),
        )


SUMMED_NOTE = "同一器具合并计算限额，合计与限额见辅助器具汇总"


def _line(priced: PricedLine, summed: frozenset[str] = frozenset()) -> SlipLine:
    line, item = priced.line, priced.item
    reason = ""
    if line.item_code in summed and priced.reason is PersonalReason.OVER_LIMIT:
        reason = f"{SUMMED_NOTE}（{priced.rule.article}）"  # the sum and limit shown once
    elif priced.personal_pay != 0:
        reason = f"{priced.message or priced.rule.message}（{priced.rule.article}）"
    return SlipLine(
        category=line.category.label,
        name=line.item_name or (item.name if item else line.item_code),
        unit=line.unit or (item.unit if item else ""),
        unit_price=line.unit_price,
        quantity=line.quantity,
        amount=priced.amount,
        fund_pay=priced.fund_pay,
        personal_pay=priced.personal_pay,
        # Counted in the out-of-catalogue part (an item off the notice or replaced inside its
        # minimum years, N§34, 附表2): labelled so, even when the catalogue lists the item.
        in_catalogue=priced.in_catalogue and priced.reason is not PersonalReason.OUT_OF_CATALOGUE,
        reason=reason,
    )


def build_slip(services: Services, settlement_id: str) -> Slip:
    """The slip of a settlement (revoked ones too, marked as such); :class:`NotFound` if none."""
    ctx = services.context
    with ctx.uow() as uow:
        settlement: Settlement = uow.settlements.get(settlement_id)
        encounter = settlement.encounter
        person = uow.persons.get(encounter.psn_no)
        filing = uow.filings.get(encounter.filing_no)
    bill = settlement.bill
    institution = ctx.institution
    is_device = encounter.kind is EncounterKind.DEVICE
    devices = device_totals(bill.lines) if is_device else ()
    summed = frozenset(d.device_code for d in devices if d.lines > 1)
    return Slip(
        settlement_id=settlement.id,
        slip_no=settlement.slip_no,
        status=settlement.status,
        revoked_at=settlement.revoked_at,
        revoke_reason=settlement.revoke_reason,
        institution_name=institution.name,
        institution_code=institution.code,
        treatment_admdvs=institution.admdvs,
        name=person.name if person else "",
        gender=person.gender.label if person else "",
        citizen_id=mask_citizen_id(person.citizen_id) if person else "",
        psn_no=encounter.psn_no,
        insured_admdvs=encounter.insured_admdvs or (person.insured_admdvs if person else ""),
        filing_no=encounter.filing_no,
        person_category=filing.person_category if filing else "",
        filing_valid=(
            f"{filing.valid_from} 至 {'长期' if filing.open_ended else filing.effective_to}"
            if filing
            else ""
        ),
        kind_label=encounter.kind.label,
        his_visit_id=encounter.his_visit_id,
        department=encounter.department,
        admitted_on=ctx.local_date(encounter.admitted_at),
        # 出院日期 for a stay; a device slip labels this 结算日期: the settlement's own day.
        discharged_on=settlement.settled_on(ctx.zone)
        if encounter.kind is EncounterKind.DEVICE
        else bill.discharged_on,
        diagnoses=tuple(
            " ".join(filter(None, (d.code, d.name)))
            for d in (diagnosis_of(t) for t in encounter.diagnoses)
        ),
        injury_parts=encounter.injury_parts,
        totals=bill.breakdown,
        by_category=tuple(
            CategoryTotal(FeeCategory(c.category).label, c.total, c.fund_pay, c.personal_pay)
            for c in bill.by_category()
        ),
        lines=tuple(_line(p, summed) for p in bill.lines),
        excluded=tuple(
            ExcludedLine(
                line.category.label, line.item_name or line.item_code, line.quantity, line.amount
            )
            for line in bill.excluded
        ),
        notes=bill.notes,
        operator=settlement.operator,
        settled_at=settlement.settled_at,
        device_notice_no=filing.approval_notice_no if filing else "",
        devices=devices,
        out_of_catalogue_parts=out_of_catalogue_parts(bill.lines) if is_device else (),
    )
