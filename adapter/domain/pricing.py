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

A reversal (冲销) undoes part or all of one charge, at that charge's unit price
(:func:`check_reversal`), and leaves the charge as its remaining quantity would be priced
fresh, at the amount left (N§32, N§37): its fund part is the fund part of what was left of
the charge before it, less that of what is left after it, each priced as a charge of that
quantity and amount would be (over a standard: the standard for the quantity left, never
for what was returned). The parts telescope, so reversals that bring a charge's quantity to
zero (they must then have taken back exactly its amount) bring its total, fund and personal
parts to exactly 0.00, however many parts it was reversed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeLine, amount_matches, check_amount
from adapter.domain.money import FEN, ZERO, is_fen, standard_cap, to_fen
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
DEVICE_AT_COUNTER = Rule(
    "PR_DEVICE_AT_COUNTER",
    "N§34, B§34, B§35",
    "辅助器具不在住院费用中由基金支付：须凭配置费用核付通知单在辅助器具配置窗口按参保地目录结算，"
    "本条由个人支付",
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
    # The device limit the line was priced against (N§34, B§35), kept with the line so a slip
    # printed later says it, whatever the catalogue or filing says by then; else None.
    limit: Decimal | None = None

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


def check_reversal(
    line: FeeLine,
    basis: FeeLine,
    taken_quantity: Decimal,
    taken_amount: Decimal,
    field: str = "",
) -> None:
    """Refuse a reversal that does not take back what its original charged.

    ``taken_quantity`` and ``taken_amount`` are what earlier reversals of ``basis`` took back
    (magnitudes); ``field`` names the line in the request (``lines.3``). Called after the
    quantity left was checked. A reversal returns part of the charge at the charge's unit
    price, and the one that returns the last of its quantity returns the last of its amount:
    otherwise the fund would pay back more than it paid (a negative fund total) or the worker
    would pay for what was returned (N§32, N§33, N§47).

    The reversal that returns exactly what is left of the charge, quantity and amount, is
    right by construction, even where its amount is more than a fen from quantity × unit
    price (3 × 33.3333 = 100.00 returned as 33.33, 33.33 and 33.34): it is not refused for
    that. Any other reversal's amount is checked against its own unit price
    (:func:`check_amount`) and against its original's: a HIS that sends the amount alone has
    its unit price derived to four decimals, so the amount, not the digits, must agree.
    """
    prefix = f"{field}." if field else ""
    left = basis.amount - taken_amount
    returned = -line.amount
    completes = taken_quantity - line.quantity == basis.quantity
    if completes and returned == left:
        return
    check_amount(line, f"{prefix}amount")
    if line.unit_price != basis.unit_price and not amount_matches(
        line.quantity, basis.unit_price, line.amount
    ):
        raise PricingError(
            f"冲销明细{line.line_id}的单价{_yuan(line.unit_price)}元与原明细{basis.line_id}"
            f"的单价{_yuan(basis.unit_price)}元不符：冲销须按原明细的单价冲回，"
            f"数量{line.quantity}的金额应为{-to_fen(-line.quantity * basis.unit_price)}元",
            code="FEE_REVERSAL_PRICE_MISMATCH",
            article="N§32, N§33, N§47",
            field=f"{prefix}unit_price",
        )
    if returned > left or completes:
        what = "冲回原明细的全部剩余数量，金额应为" if completes else "金额不能超过"
        raise PricingError(
            f"冲销明细{line.line_id}的金额{line.amount}元与原明细{basis.line_id}不符："
            f"{what}原明细剩余金额{-left}元",
            code="FEE_REVERSAL_AMOUNT_MISMATCH",
            article="N§32, N§33, N§47",
            field=f"{prefix}amount",
        )


def _yuan(price: Decimal) -> str:
    """A unit price as the clerk reads it: to the fen, or to its last digit if finer."""
    return str(price.quantize(FEN)) if is_fen(price) else str(price.normalize())


class Taken(NamedTuple):
    """What a charge's earlier reversals took back, as magnitudes: its quantity and amount."""

    quantity: Decimal = ZERO
    amount: Decimal = ZERO

    def plus(self, reversal: FeeLine) -> Taken:
        """What is taken back once ``reversal`` (negative quantity and amount) is too."""
        return Taken(self.quantity - reversal.quantity, self.amount - reversal.amount)


NOTHING_TAKEN = Taken()


def _left(
    original: PricedLine,
    taken: Taken,
    catalogue: Catalogue,
    region: str,
    zone: tzinfo | None,
) -> PricedLine | None:
    """What is left of ``original`` once ``taken`` is taken back, priced as a charge of the
    remaining quantity at the amount left; ``None`` once none of it is left."""
    if not taken.quantity:
        return original
    quantity = original.line.quantity - taken.quantity
    if not quantity:
        return None  # the last of it returned, with exactly its amount (check_reversal)
    left = replace(original.line, quantity=quantity, amount=original.amount - taken.amount)
    return price_line(left, catalogue, region, zone=zone)


def _reversing(
    line: FeeLine,
    original: PricedLine,
    taken: Taken,
    catalogue: Catalogue,
    region: str,
    zone: tzinfo | None,
) -> tuple[Decimal, Decimal, Rule, PersonalReason | None, str]:
    """A reversal's split: the fund part of what was left of the original before it (after
    the ``taken`` of the earlier reversals), less that of what is left after it.

    Its personal part is the original's kind of personal part; of a charge the fund paid in
    full, it is the standard's (a remainder a fen over the standard for its quantity, N§32,
    N§37), named so, so that the slip's three personal columns add up."""
    before = _left(original, taken, catalogue, region, zone)
    after = _left(original, taken.plus(line), catalogue, region, zone)
    fund = (after.fund_pay if after else ZERO) - (before.fund_pay if before else ZERO)
    personal = line.amount - fund
    if not personal:
        return fund, personal, original.rule, None, original.message
    decided = next(
        (p for p in (original, after, before) if p is not None and p.reason is not None),
        original,
    )
    return fund, personal, decided.rule, decided.reason, decided.message


def fee_day(line: FeeLine, zone: tzinfo | None = None) -> date:
    """The day a fee's catalogue version is looked up for: the calendar day of its time where
    the institution is (``zone``), as the catalogue's effective dates are (N§32, B§30). A time
    read back from the store is in UTC: a fee at 05:00 Beijing time is 21:00 UTC the day
    before, and its own date would be that day. ``None``: the time's own offset."""
    moment = line.occurred_at if zone is None else line.occurred_at.astimezone(zone)
    return moment.date()


def price_line(
    line: FeeLine,
    catalogue: Catalogue,
    region: str,
    *,
    basis: FeeLine | None = None,
    taken: Taken = NOTHING_TAKEN,
    zone: tzinfo | None = None,
) -> PricedLine:
    """Price one line against the treatment place's catalogue ``region``, by the version in
    force on its :func:`fee_day` in ``zone`` (the institution's time zone).

    ``basis`` is the original line a reversal undoes: the reversal is priced by the original's
    item, date and work-injury flag, leaving the original as its remaining quantity would be
    priced; ``taken`` is what the original's earlier reversals took back, so a charge
    reversed in full, in one part or several, cancels to the fen.
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
    if basis is not None and line.is_reversal:
        original = price_line(basis, catalogue, region, zone=zone)
        fund, personal, rule, reason, message = _reversing(
            line, original, taken, catalogue, region, zone
        )
        return PricedLine(line, original.item, fund, personal, rule, reason, message)
    # N§34, B§34: a device is paid against the insured place's catalogue and its limits, on
    # the approval notice, at the device counter; never on a stay's bill, whatever it lists.
    device = kind is CatalogueKind.DEVICE
    item = (
        None
        if device
        else catalogue.lookup_billed(kind, region, source.item_code, fee_day(source, zone))
    )
    magnitude = abs(line.amount)
    if not source.work_injury:
        # B§29: injury and illness are kept apart; the fund pays nothing for the illness.
        split = _split(line, ZERO, NON_WORK_INJURY, PersonalReason.NON_WORK_INJURY)
    elif device:
        split = _split(line, ZERO, DEVICE_AT_COUNTER, PersonalReason.OUT_OF_CATALOGUE)
    elif item is None:
        split = _split(line, ZERO, OUT_OF_CATALOGUE, PersonalReason.OUT_OF_CATALOGUE)
    elif (
        item.price_cap is not None
        and line.unit_price > item.price_cap
        and standard_cap(item.price_cap, line.quantity) < magnitude
    ):
        # N§32/N§37: the fund pays up to the standard per unit; the excess is the worker's. A
        # price within the standard is the fund's in full, though its amount, rounded to the
        # fen, may be a fraction of a fen above the standard's (0.2 day at 11.9389: 2.39).
        cap = standard_cap(item.price_cap, line.quantity)
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


def price_lines(
    lines: Sequence[FeeLine], catalogue: Catalogue, region: str, zone: tzinfo | None = None
) -> PricedBill:
    """Price a stay's lines (each by its :func:`fee_day` in ``zone``); reversals are matched
    to their originals by ``line_id``.

    Raises :class:`PricingError` for a reversal whose original is unknown, one that would
    reverse more than was charged, or one whose price or amount is not its original's
    (:func:`check_reversal`).
    """
    originals: dict[str, FeeLine] = {}
    remaining: dict[str, Decimal] = {}
    taken: dict[str, Taken] = {}  # what each original's reversals took back so far
    for line in lines:
        if not line.is_reversal:
            originals[line.line_id] = line
            remaining[line.line_id] = line.quantity
            taken[line.line_id] = Taken()
    priced: list[PricedLine] = []
    excluded: list[FeeLine] = []
    for line in lines:
        basis = None
        before = Taken()
        if line.is_reversal:
            basis = originals.get(line.reverses)
            if basis is None:
                raise PricingError(
                    f"冲销明细{line.line_id}对应的原明细{line.reverses or '（未填写）'}不存在",
                    code="FEE_REVERSAL_UNKNOWN_ORIGINAL",
                )
            if remaining[basis.line_id] + line.quantity < 0:
                raise PricingError(
                    f"冲销明细{line.line_id}的数量超过原明细{basis.line_id}的剩余数量",
                    code="FEE_REVERSAL_EXCEEDS_ORIGINAL",
                )
            check_reversal(
                line, basis, basis.quantity - remaining[basis.line_id], taken[basis.line_id].amount
            )
            remaining[basis.line_id] += line.quantity
            before = taken[basis.line_id]
            taken[basis.line_id] = before.plus(line)
        if (basis or line).category.excluded:
            excluded.append(line)
            continue
        priced.append(price_line(line, catalogue, region, basis=basis, taken=before, zone=zone))
    return PricedBill(tuple(priced), tuple(excluded))
