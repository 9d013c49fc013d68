"""Pricing: who pays each fee line, how much, and which rule decided it.

- in the treatment place's catalogue, compliant: the fund pays all (N§32);
- outside the catalogue (目录外): the worker pays all (N§32, N§37);
- above the inpatient service standard: the fund pays up to the standard, the worker the
  excess (N§32, N§37);
- treatment of a non-work injury (伤病分离): the worker pays all (N§37, B§29);
- meal subsidy and referral transport/lodging: not part of direct settlement; listed apart,
  reimbursed by the insured place (N§3, B§30).

Devices are priced by :mod:`adapter.domain.devices`. Each line is rounded once (see
:mod:`adapter.domain.money`); the personal part is the amount minus the fund part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from adapter.domain.catalogue import Catalogue, CatalogueItem
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeLine
from adapter.domain.money import ZERO, is_fen, to_fen
from adapter.domain.rules import Rule


class PersonalReason(StrEnum):
    """Why the worker pays part of a line; the slip's three personal-pay columns."""

    OUT_OF_CATALOGUE = "out_of_catalogue"  # 目录外（含未列入核付通知单、未达最低使用年限）
    OVER_LIMIT = "over_limit"  # 超标准/超限额
    NON_WORK_INJURY = "non_work_injury"  # 非工伤

    @property
    def label(self) -> str:
        return {
            "out_of_catalogue": "目录外",
            "over_limit": "超标准/超限额",
            "non_work_injury": "非工伤",
        }[self.value]


IN_CATALOGUE = Rule("PR_IN_CATALOGUE", "N§32, B§30", "就医地目录内合规费用，由工伤保险基金支付")
OUT_OF_CATALOGUE = Rule(
    "PR_OUT_OF_CATALOGUE", "N§32, N§37, B§30", "不在就医地工伤保险目录内，基金不予支付，由个人支付"
)
OVER_STANDARD = Rule(
    "PR_OVER_STANDARD",
    "N§32, N§37, B§30",
    "超出住院服务标准（{cap}元/{unit}）的部分基金不予支付，由个人支付",
)
NON_WORK_INJURY = Rule(
    "PR_NON_WORK_INJURY", "N§37, B§29", "非工伤治疗费用（伤病分离），基金不予支付，由个人支付"
)
EXCLUDED = Rule(
    "PR_EXCLUDED",
    "N§3, B§30",
    "住院伙食补助费和转诊交通食宿费不纳入直接结算，由参保地经办机构审核报销",
)


@dataclass(frozen=True)
class PricedLine:
    line: FeeLine
    item: CatalogueItem | None
    fund_pay: Decimal
    personal_pay: Decimal
    rule: Rule
    reason: PersonalReason | None = None
    message: str = ""  # the rule's message with its details filled in

    @property
    def amount(self) -> Decimal:
        return self.line.amount

    @property
    def in_catalogue(self) -> bool:
        return self.item is not None


def _check_amounts(line: FeeLine) -> None:
    if line.quantity == 0:
        raise PricingError(f"费用明细{line.line_id}数量不能为0", code="FEE_ZERO_QUANTITY")
    if not is_fen(line.amount):
        raise PricingError(f"费用明细{line.line_id}金额须精确到分", code="FEE_AMOUNT_PRECISION")
    if (line.amount < 0) != (line.quantity < 0) and line.amount != 0:
        raise PricingError(f"费用明细{line.line_id}数量与金额符号不一致", code="FEE_SIGN_MISMATCH")
    if line.unit_price < 0:
        raise PricingError(f"费用明细{line.line_id}单价不能为负数", code="FEE_NEGATIVE_PRICE")


def _split(
    line: FeeLine,
    fund_magnitude: Decimal,
    rule: Rule,
    reason: PersonalReason | None,
    **details: object,
) -> tuple[Decimal, Decimal, Rule, PersonalReason | None, str]:
    """Apply the line's sign to the fund part; the personal part takes the rest to the fen."""
    sign = -1 if line.amount < 0 else 1
    fund = to_fen(fund_magnitude) * sign
    personal = line.amount - fund
    return fund, personal, rule, reason if personal != 0 else None, rule.message.format(**details)


def price_line(
    line: FeeLine, catalogue: Catalogue, region: str, *, basis: FeeLine | None = None
) -> PricedLine:
    """Price one line against the treatment place's catalogue ``region``.

    ``basis`` is the original line a reversal undoes: the reversal is priced by the original's
    item, date and work-injury flag, so a full reversal cancels its original to the fen.
    """
    _check_amounts(line)
    source = basis or line
    kind = source.category.catalogue_kind
    if source.category.excluded or kind is None:
        raise PricingError(
            f"费用明细{line.line_id}（{source.category.label}）不纳入直接结算",
            code="FEE_EXCLUDED",
            article=EXCLUDED.article,
        )
    item = catalogue.lookup(kind, region, source.item_code, source.occurred_at.date())
    magnitude = abs(line.amount)
    if not source.work_injury:
        # B§29: injury and illness are kept apart; the fund pays nothing for the illness.
        split = _split(line, ZERO, NON_WORK_INJURY, PersonalReason.NON_WORK_INJURY)
    elif item is None:
        split = _split(line, ZERO, OUT_OF_CATALOGUE, PersonalReason.OUT_OF_CATALOGUE)
    elif item.price_cap is not None and abs(line.quantity) * item.price_cap < magnitude:
        # N§32/N§37: the fund pays up to the standard per unit; the excess is the worker's.
        cap = item.price_cap * abs(line.quantity)
        split = _split(
            line,
            cap,
            OVER_STANDARD,
            PersonalReason.OVER_LIMIT,
            cap=item.price_cap,
            unit=item.unit or "单位",
        )
    else:
        split = _split(line, magnitude, IN_CATALOGUE, None)
    fund, personal, rule, reason, message = split
    return PricedLine(line, item, fund, personal, rule, reason, message)


@dataclass(frozen=True)
class PricedBill:
    lines: tuple[PricedLine, ...]
    excluded: tuple[FeeLine, ...]  # meal subsidy, transport: listed apart, not billed


def price_lines(lines: Sequence[FeeLine], catalogue: Catalogue, region: str) -> PricedBill:
    """Price a stay's lines; reversals are matched to their originals by ``line_id``.

    Raises :class:`PricingError` for a reversal whose original is unknown, or one that would
    reverse more than was charged.
    """
    originals: dict[str, FeeLine] = {}
    remaining: dict[str, Decimal] = {}
    for line in lines:
        if not line.is_reversal:
            originals[line.line_id] = line
            remaining[line.line_id] = line.quantity
    priced: list[PricedLine] = []
    excluded: list[FeeLine] = []
    for line in lines:
        basis = None
        if line.is_reversal:
            basis = originals.get(line.reverses)
            if basis is None:
                raise PricingError(
                    f"冲销明细{line.line_id}对应的原明细{line.reverses or '（未填写）'}不存在",
                    code="FEE_REVERSAL_UNKNOWN_ORIGINAL",
                )
            remaining[basis.line_id] += line.quantity
            if remaining[basis.line_id] < 0:
                raise PricingError(
                    f"冲销明细{line.line_id}的数量超过原明细{basis.line_id}的剩余数量",
                    code="FEE_REVERSAL_EXCEEDS_ORIGINAL",
                )
        if (basis or line).category.excluded:
            excluded.append(line)
            continue
        priced.append(price_line(line, catalogue, region, basis=basis))
    return PricedBill(tuple(priced), tuple(excluded))
