"""Assistive-device pricing: the insured place's catalogue and limits (N§32, N§34, B§34, B§35).

- not on the payment approval notice (the filed device items): the worker pays all (N§34, B§34);
- not in the insured place's device catalogue: the worker pays all (N§32, N§34, B§35);
- replaced before its minimum years of use: the worker pays all (N§34, 附表2 最低使用年限);
- in the catalogue, actual cost within the limit: the fund pays the actual cost (N§34, B§35);
- in the catalogue, above the limit: the fund pays the limit, the worker the excess (N§34, B§35).

The limit is the lower of the catalogue's maximum payment limit and the one on the filing;
:func:`applicable_limit` is that rule, for pricing and for whatever shows the limit to a clerk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.filings import FiledDevice, Filing
from adapter.domain.money import ZERO, is_fen
from adapter.domain.pricing import PersonalReason, PricedLine
from adapter.domain.rules import Rule

DEVICE_WITHIN_LIMIT = Rule(
    "PR_DEVICE_WITHIN_LIMIT",
    "N§34, B§35",
    "辅助器具费用未超过最高支付限额（{limit}元），按实际费用支付",
)
DEVICE_OVER_LIMIT = Rule(
    "PR_DEVICE_OVER_LIMIT",
    "N§34, B§35",
    "辅助器具费用超过最高支付限额（{limit}元），按限额支付，超出部分由个人支付",
)
DEVICE_NOT_IN_CATALOGUE = Rule(
    "PR_DEVICE_NOT_IN_CATALOGUE", "N§32, N§34, B§35", "不在参保地辅助器具配置目录内，基金不予支付"
)
DEVICE_NOT_ON_NOTICE = Rule(
    "PR_DEVICE_NOT_ON_NOTICE",
    "N§34, B§34",
    "未列入配置费用核付通知单（备案的辅助器具），基金不予支付",
)
DEVICE_MIN_YEARS = Rule(
    "PR_DEVICE_MIN_YEARS",
    "N§34, 附表2",
    "距上次配置（{last}）未满最低使用年限（{years}年），更换费用基金不予支付",
)


@dataclass(frozen=True)
class DeviceItem:
    device_code: str
    device_name: str
    actual_cost: Decimal
    line_id: str = ""


class LimitSource(StrEnum):
    """Which maximum payment limit binds an item."""

    FILING = "filing"  # 备案限额 (附表2, on the payment approval notice)
    CATALOGUE = "catalogue"  # 目录限价 (the insured place's device catalogue)
    BOTH = "both"  # the two are equal


LIMIT_SOURCE_LABELS = {
    LimitSource.FILING: "备案限额",
    LimitSource.CATALOGUE: "目录限价",
    LimitSource.BOTH: "备案限额与目录限价相同",
}


@dataclass(frozen=True)
class DeviceLimit:
    """The limit pricing applies to one filed item, and both figures it was chosen from."""

    amount: Decimal
    source: LimitSource
    filed: Decimal
    catalogue: Decimal | None

    @property
    def label(self) -> str:
        return LIMIT_SOURCE_LABELS[self.source]


def applicable_limit(filed: FiledDevice, entry: CatalogueItem) -> DeviceLimit:
    """The lower of the filing's and the catalogue's limit (N§34, B§35); a catalogue entry
    without a limit leaves the filing's."""
    if entry.limit is None or filed.limit < entry.limit:
        return DeviceLimit(filed.limit, LimitSource.FILING, filed.limit, entry.limit)
    if entry.limit < filed.limit:
        return DeviceLimit(entry.limit, LimitSource.CATALOGUE, filed.limit, entry.limit)
    return DeviceLimit(filed.limit, LimitSource.BOTH, filed.limit, entry.limit)


def filed_limits(
    filing: Filing, catalogue: Catalogue, insured_region: str, on: date
) -> dict[str, DeviceLimit | None]:
    """Each filed item's applicable limit on ``on``; ``None`` for an item outside the insured
    place's catalogue, which the fund does not pay at all (N§32, N§34)."""
    limits: dict[str, DeviceLimit | None] = {}
    for filed in filing.devices:
        entry = catalogue.lookup(CatalogueKind.DEVICE, insured_region, filed.device_code, on)
        limits[filed.device_code] = None if entry is None else applicable_limit(filed, entry)
    return limits


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _refused(
    line: FeeLine, entry: CatalogueItem | None, rule: Rule, **details: object
) -> PricedLine:
    message = rule.message.format(**details)
    return PricedLine(
        line, entry, ZERO, line.amount, rule, PersonalReason.OUT_OF_CATALOGUE, message
    )


def price_devices(
    items: Sequence[DeviceItem],
    filing: Filing,
    catalogue: Catalogue,
    insured_region: str,
    fitted_at: datetime,
    last_fitted: Mapping[str, date] | None = None,
) -> tuple[PricedLine, ...]:
    """Price a fitting's device items; ``last_fitted`` maps device codes to earlier fittings."""
    last_fitted = last_fitted or {}
    priced: list[PricedLine] = []
    for number, item in enumerate(items, start=1):
        if item.actual_cost <= 0 or not is_fen(item.actual_cost):
            raise PricingError(
                f"辅助器具{item.device_name}的实际费用须为大于0且精确到分的金额",
                code="DEVICE_COST_INVALID",
            )
        line = FeeLine(
            line_id=item.line_id or f"D{number:03d}",
            item_code=item.device_code,
            item_name=item.device_name,
            category=FeeCategory.DEVICE,
            quantity=Decimal(1),
            unit_price=item.actual_cost,
            amount=item.actual_cost,
            occurred_at=fitted_at,
        )
        cost = item.actual_cost
        filed = filing.device(item.device_code)
        entry = catalogue.lookup(
            CatalogueKind.DEVICE, insured_region, item.device_code, fitted_at.date()
        )
        previous = last_fitted.get(item.device_code)

        if filed is None:
            priced.append(_refused(line, entry, DEVICE_NOT_ON_NOTICE))
        elif entry is None:
            priced.append(_refused(line, entry, DEVICE_NOT_IN_CATALOGUE))
        elif previous is not None and fitted_at.date() < _add_years(previous, filed.min_years):
            priced.append(
                _refused(
                    line, entry, DEVICE_MIN_YEARS, last=previous.isoformat(), years=filed.min_years
                )
            )
        else:
            limit = applicable_limit(filed, entry).amount
            if cost <= limit:
                priced.append(
                    PricedLine(
                        line,
                        entry,
                        cost,
                        ZERO,
                        DEVICE_WITHIN_LIMIT,
                        None,
                        DEVICE_WITHIN_LIMIT.message.format(limit=limit),
                    )
                )
            else:
                priced.append(
                    PricedLine(
                        line,
                        entry,
                        limit,
                        cost - limit,
                        DEVICE_OVER_LIMIT,
                        PersonalReason.OVER_LIMIT,
                        DEVICE_OVER_LIMIT.message.format(limit=limit),
                    )
                )
    return tuple(priced)
