"""FT1 segments of a DFT^P03 → :class:`FeeLine` (费用明细).

Fields (interfaces.md §2): FT1-2 line id (the line's own ``his_line_id``), FT1-4 date/time,
FT1-6 ``CG`` charge or ``CD`` credit, FT1-7 item ``code^name^coding system``, FT1-10
quantity, FT1-11 amount, FT1-12 unit price, FT1-13 department.

**Credits (reversals).** A ``CD`` line is a reversal of an earlier charge. Its FT1-2 is its
*own* line id (unique, like any line); **FT1-3** (transaction batch id, used as the
reference) names the FT1-2 of the *original* charge, and is required on a credit. The HIS may
send the credit's quantity and amount as positive or negative numbers; the adapter always
stores a reversal with a negative quantity and amount and a positive unit price, the way the
upstream platform records reversals (``init_feedetl_sn``). A ``CG`` line with a negative
quantity or amount is refused: a reversal must say so with ``CD``.

**Fee category** is decided by the site profile (:mod:`connectors.hl7.profile`): FT1-7.3
coding system first, then the longest item-code prefix, then the profile's default; a line
the profile cannot classify refuses the message (AR at FT1-7).

**Amounts.** FT1-10 missing means 1. At least one of FT1-11 (amount) and FT1-12 (unit price)
is required; the other is derived. When both are sent, ``quantity × unit price`` must equal the
amount to the fen (:func:`adapter.domain.fees.amount_matches`, the rule REST applies too).
Amounts carry at most two decimals; a currency other than CNY (FT1-11.1.2) is refused.
FT1-8 (description) stands in for a missing FT1-7.2 item name.

**Non-work-injury lines (伤病分离, B§29, N§37).** A line for the treatment of another illness
is paid by the worker, not the fund. FT1 has no field that says so, so our Z-segment ``ZFT``,
sent right after the FT1 it belongs to, does (as ``work_injury`` does over REST):
``ZFT|<work injury: Y, or N for another illness>``. No ZFT, or ZFT-1 empty, means ``Y``: a
line of the work injury. A ZFT not right after an FT1, or with another value, is refused (AR
naming it), so that a line meant for the worker is never paid by the fund by mistake.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import tzinfo
from decimal import ROUND_HALF_UP, Decimal

from adapter.domain.fees import FeeLine, amount_matches
from adapter.domain.money import FEN, is_fen
from adapter.domain.text import MAX_FEE_LINES
from connectors.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE_ERROR,
    TABLE_VALUE_NOT_FOUND,
    Hl7Error,
    Location,
)
from connectors.hl7.profile import SiteProfile
from connectors.hl7.reader import Hl7Message, Segment
from connectors.hl7.values import parse_decimal, parse_ts


def fee_lines(message: Hl7Message, profile: SiteProfile) -> tuple[FeeLine, ...]:
    """Every FT1 of the message as a fee line; at least one is required."""
    segments = message.all("FT1")
    if not segments:
        raise Hl7Error(
            "DFT^P03报文没有FT1费用明细段",
            Location("FT1"),
            hl7_code=SEGMENT_SEQUENCE_ERROR,
            code="HL7_SEGMENT_MISSING",
        )
    if len(segments) > MAX_FEE_LINES:
        raise Hl7Error(
            f"一条DFT^P03报文的费用明细（FT1段）超过{MAX_FEE_LINES}条，请分批发送",
            segments[MAX_FEE_LINES].location(),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_TOO_MANY",
        )
    seen: set[str] = set()
    lines = []
    zone = profile.zone
    flags = _work_injury_flags(message)
    for segment, work_injury in zip(segments, flags, strict=True):
        line = fee_line(segment, profile, zone)
        if not work_injury:
            line = replace(line, work_injury=False)
        if line.line_id in seen:
            raise Hl7Error(
                f"费用明细流水号重复：{line.line_id}",
                segment.location(2),
                hl7_code=DATA_TYPE_ERROR,
                code="HL7_DUPLICATE_LINE",
            )
        seen.add(line.line_id)
        lines.append(line)
    return tuple(lines)


def _work_injury_flags(message: Hl7Message) -> list[bool]:
    """Per FT1, in order: is it a line of the work injury (its ZFT-1 ``Y``, or no ZFT)?"""
    flags: list[bool] = []
    previous = ""
    for segment in message.segments:
        if segment.name == "FT1":
            flags.append(True)
        elif segment.name == "ZFT":
            if previous != "FT1":
                raise Hl7Error(
                    "ZFT段须紧跟在它所说明的FT1费用明细段之后",
                    segment.location(),
                    hl7_code=SEGMENT_SEQUENCE_ERROR,
                    code="HL7_SEGMENT_OUT_OF_PLACE",
                )
            flag = segment.get(1).strip().upper()
            if flag not in ("", "Y", "N"):
                raise Hl7Error(
                    f"ZFT-1是否工伤应为Y（工伤）或N（非工伤，伤病分离），收到：{flag}",
                    segment.location(1),
                    hl7_code=TABLE_VALUE_NOT_FOUND,
                    code="HL7_BAD_WORK_INJURY_FLAG",
                )
            flags[-1] = flag != "N"
        previous = segment.name
    return flags


# Where :func:`fee_line` reads each attribute of a line, by the name a refusal gives it (the
# REST name: ``lines.3.unit_price``): (FT1 field, component; 0 = the whole field).
LINE_FIELDS: dict[str, tuple[int, int]] = {
    "his_line_id": (2, 0),
    "reverses": (3, 0),
    "occurred_at": (4, 0),
    "category": (7, 0),  # classified from FT1-7.3 or the item code (the site profile)
    "item_code": (7, 1),
    "item_name": (7, 2),
    "quantity": (10, 0),
    "amount": (11, 0),
    "unit_price": (12, 0),
    "department": (13, 0),
}
# A value the HIS left out was derived from these (see _money and fee_line): a refusal of it
# points at what was sent.
_DERIVED_FROM = {"amount": 12, "unit_price": 11, "item_name": 8}


def line_location(message: Hl7Message, index: int, name: str = "") -> Location | None:
    """Where line ``index`` of :func:`fee_lines` (0-based, as the use cases number a batch)
    came from: its FT1, at the field ``name`` was read from (the segment alone for a name
    not in :data:`LINE_FIELDS`); ``None`` if the message has no such line."""
    segments = message.all("FT1")  # fee_lines keeps every FT1, in message order
    if not 0 <= index < len(segments):
        return None
    segment = segments[index]
    if name not in LINE_FIELDS:
        return segment.location()
    number, component = LINE_FIELDS[name]
    if (
        not segment.get(number, component)
        and name in _DERIVED_FROM
        and segment.get(_DERIVED_FROM[name])
    ):
        return segment.location(_DERIVED_FROM[name])
    return segment.location(number, component)


def fee_line(segment: Segment, profile: SiteProfile, zone: tzinfo) -> FeeLine:
    line_id = _required(segment, 2, "费用明细流水号")
    occurred_text = _required(segment, 4, "费用发生时间")
    occurred_at = parse_ts(occurred_text, zone, segment.location(4))
    kind = _required(segment, 6, "交易类型").upper()
    if kind not in ("CG", "CD"):
        raise Hl7Error(
            f"FT1-6交易类型应为CG（收费）或CD（冲销），收到：{kind}",
            segment.location(6),
            hl7_code=TABLE_VALUE_NOT_FOUND,
            code="HL7_BAD_TRANSACTION_TYPE",
        )
    item_code, item_name, coding_system = segment.components_of(7, 3)
    if not item_code:
        raise _missing(segment, 7, "收费项目编码")
    item_name = item_name or segment.get(8)
    if not item_name:
        raise Hl7Error(
            "缺少收费项目名称（FT1-7.2）",
            segment.location(7, 2),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    category = profile.category_for(item_code, coding_system)
    if category is None:
        raise Hl7Error(
            f"无法确定收费项目{item_code}的费用类别，请在HL7站点配置中维护编码体系或编码前缀",
            segment.location(7),
            hl7_code=TABLE_VALUE_NOT_FOUND,
            code="HL7_UNKNOWN_CATEGORY",
        )
    quantity, unit_price, amount = _money(segment)
    reverses = ""
    if kind == "CD":
        reverses = segment.get(3)
        if not reverses:
            raise Hl7Error(
                "冲销明细（CD）须在FT1-3填写原收费明细流水号",
                segment.location(3),
                hl7_code=REQUIRED_FIELD_MISSING,
                code="HL7_REQUIRED",
            )
        quantity, amount = -abs(quantity), -abs(amount)
    elif quantity < 0 or amount < 0:
        raise Hl7Error(
            "收费明细（CG）的数量和金额不能为负数，冲销请使用CD",
            segment.location(10 if quantity < 0 else 11),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_NEGATIVE_CHARGE",
        )
    department_code, department_name = segment.components_of(13, 2)
    return FeeLine(
        line_id=line_id,
        item_code=item_code,
        item_name=item_name,
        category=category,
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        occurred_at=occurred_at,
        reverses=reverses,
        department=department_name or department_code,
    )


def _money(segment: Segment) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, unit price ≥ 0, amount) with the rules of the module docstring."""
    quantity_text = segment.get(10)
    quantity = parse_decimal(quantity_text, segment.location(10)) if quantity_text else Decimal(1)
    if quantity == 0:
        raise Hl7Error(
            "FT1-10数量不能为0",
            segment.location(10),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_BAD_NUMBER",
        )
    subcomponent = segment.separators.subcomponent
    for number in (11, 12):
        if subcomponent not in segment.raw(number):
            continue  # no currency sent (FT1-11.1.2): CNY
        currency = segment.get(number, 1, subcomponent=2).upper()
        if currency and currency not in ("CNY", "RMB"):
            raise Hl7Error(
                f"FT1-{number}币种应为CNY，收到：{currency}",
                segment.location(number),
                hl7_code=TABLE_VALUE_NOT_FOUND,
                code="HL7_BAD_CURRENCY",
            )
    amount_text, price_text = segment.get(11), segment.get(12)
    if not amount_text and not price_text:
        raise Hl7Error(
            "FT1-11金额与FT1-12单价至少填写一项",
            segment.location(11),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    amount = parse_decimal(amount_text, segment.location(11)) if amount_text else None
    price = parse_decimal(price_text, segment.location(12)) if price_text else None
    if amount is not None and not is_fen(amount):
        raise Hl7Error(
            f"FT1-11金额最多两位小数：{amount_text}",
            segment.location(11),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_BAD_NUMBER",
        )
    if price is not None and price < 0:
        raise Hl7Error(
            "FT1-12单价不能为负数",
            segment.location(12),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_BAD_NUMBER",
        )
    if amount is None:
        assert price is not None
        amount = (abs(quantity) * price).quantize(FEN, ROUND_HALF_UP).copy_sign(quantity)
    elif price is None:
        price = abs(amount / quantity).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    # A credit's amount is checked against the charge it reverses instead (the service's
    # check_reversal): the one returning the last of a charge returns exactly what is left,
    # which may be a fen off quantity × unit price (3 × 33.3333 returned as 33.33, 33.33, 33.34).
    elif quantity > 0 and not amount_matches(quantity, price, amount):
        raise Hl7Error(
            f"FT1-11金额{amount}与数量×单价（{quantity}×{price}）不符",
            segment.location(11),
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_AMOUNT_MISMATCH",
        )
    return quantity, price, amount


def _required(segment: Segment, number: int, label: str) -> str:
    value = segment.get(number)
    if not value:
        raise _missing(segment, number, label)
    return value


def _missing(segment: Segment, number: int, label: str) -> Hl7Error:
    return Hl7Error(
        f"缺少{label}（{segment.name}-{number}）",
        segment.location(number),
        hl7_code=REQUIRED_FIELD_MISSING,
        code="HL7_REQUIRED",
    )
