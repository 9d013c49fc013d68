"""A fitting's items as the slip and the counter show them: each item once, its lines summed
against its one limit (N§34, B§35), and the out-of-catalogue part split by its own reasons
(未列入核付通知单 N§34, 最低使用年限内更换 附表2). Figures are the priced lines' own; nothing is
priced again here — the limit neither: it is the one the lines were priced against, stored
with them (:attr:`PricedLine.limit`), not the filing's or the catalogue's as last seen (a slip
printed again after the insured place changed the limit still says what the fund paid
against)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from adapter.domain.devices import (
    DEVICE_MIN_YEARS,
    DEVICE_NOT_IN_CATALOGUE,
    DEVICE_NOT_ON_NOTICE,
    DEVICE_NOTICE_USED,
)
from adapter.domain.fees import FeeCategory
from adapter.domain.money import ZERO
from adapter.domain.pricing import PersonalReason, PricedLine


@dataclass(frozen=True)
class DeviceTotal:
    """One item of a fitting, all its lines together: what the slip shows once per item."""

    device_code: str
    device_name: str
    lines: int
    amount: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    limit: Decimal | None  # the applicable limit, when the item was priced against one
    reason: str  # why the worker pays (rule message and article), else ""


def device_totals(lines: Sequence[PricedLine]) -> tuple[DeviceTotal, ...]:
    """The fitting's items with their summed lines and the limit each was priced against
    (once per item)."""
    groups: dict[str, list[PricedLine]] = {}
    for priced in lines:
        if priced.line.category is FeeCategory.DEVICE:
            groups.setdefault(priced.line.item_code, []).append(priced)
    totals = []
    for code, group in groups.items():
        first = group[0]
        limit = first.limit  # the one the item's lines were priced against (N§34, B§35)
        personal = sum((p.personal_pay for p in group), ZERO)
        reason = ""
        if personal:
            rule = first.rule
            text = rule.message.format(limit=limit) if limit is not None else first.message
            reason = f"{text}（{rule.article}）"
        totals.append(
            DeviceTotal(
                device_code=code,
                device_name=first.line.item_name or code,
                lines=len(group),
                amount=sum((p.amount for p in group), ZERO),
                fund_pay=sum((p.fund_pay for p in group), ZERO),
                personal_pay=personal,
                limit=limit,
                reason=reason,
            )
        )
    return tuple(totals)


# The out-of-catalogue part of a device slip, split by its own reasons (N§34, 附表2).
OUT_OF_CATALOGUE_LABELS = {
    DEVICE_NOT_IN_CATALOGUE.code: "不在参保地辅助器具配置目录",
    DEVICE_NOT_ON_NOTICE.code: "未列入核付通知单",
    DEVICE_MIN_YEARS.code: "最低使用年限内更换",
    DEVICE_NOTICE_USED.code: "同一核付通知单再次配置",
}


def out_of_catalogue_parts(lines: Sequence[PricedLine]) -> tuple[tuple[str, Decimal], ...]:
    """The device lines the worker pays wholly, summed per reason, in order of appearance."""
    parts: dict[str, Decimal] = {}
    for priced in lines:
        label = OUT_OF_CATALOGUE_LABELS.get(priced.rule.code)
        if label is not None and priced.reason is PersonalReason.OUT_OF_CATALOGUE:
            parts[label] = parts.get(label, ZERO) + priced.personal_pay
    return tuple(parts.items())
