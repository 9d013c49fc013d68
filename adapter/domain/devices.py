"""Assistive-device pricing: the insured place's catalogue and limits (N§32, N§34, B§34, B§35).

- not on the payment approval notice (核付通知单, the filed device items): the worker may still
  buy it; the fund pays nothing and the worker pays all (N§34: the worker pays what the fund
  does not cover) — a warning at the counter, never a refusal of the whole fitting;
- not in the insured place's device catalogue: the worker pays all (N§32, N§34);
- in the catalogue: the fund pays the actual cost up to the item's maximum payment limit, the
  worker the excess (N§34, B§35). The limit applies **per item per fitting**: the lines of one
  item are summed and priced against one limit (docs/domain.md, pricing table);
- replaced inside its minimum years of use (最低使用年限, 附表2): see :func:`replacement`;
- a code that is the catalogue's or the notice's but for letter case: the fitting is refused,
  never priced as the worker's (:mod:`.device_codes`).

The limit is the lower of the catalogue's maximum payment limit and the one on the filing;
:func:`applicable_limit` is that rule, for pricing and for whatever shows the limit to a clerk.

**Replacement inside the minimum years (our reading of 附表2 and N§34).** The approval notice is
the insured place's approval of a fitting. A notice that lists the item and is *not* the notice
the earlier fitting was settled under is a new approval of the replacement: the item is priced
against its limit like any other (the counter is told it is an approved replacement). Without
such a notice — the item is off the notice presented, or the notice presented is the very one
that already paid the earlier fitting — the counter is warned and shown the earlier fitting
(date, item, where); if it goes on, the worker pays the item (最低使用年限内更换). The adapter
knows the fittings settled through it and those recorded here as manual-claim cases (the
insured place reimburses their fee lists, N§38: :mod:`.device_cases`); earlier fittings
elsewhere are the insured place's to check when it issues the notice.

**The same notice again, whatever the minimum years.** An item whose minimum years are not
known (none on the filing: upstream sent none, read as 0) has no window to count, but the
notice that already paid its earlier fitting still does not approve a second one: the fund
would pay the item twice on one approval (N§34 核对核付通知单; N§38 杜绝重复报销). Such a
fitting is the worker's like a replacement inside the years (:data:`DEVICE_NOTICE_USED`), warned
and confirmed the same way. With known minimum years the window alone decides, as above.

A device catalogue that is simply not loaded is not "out of catalogue": the service finds the
insured place's catalogue of the fitting's day before pricing (:mod:`.device_regions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.device_codes import check_code_case
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.filings import FiledDevice, Filing, same_notice
from adapter.domain.money import FEN, ZERO, is_fen
from adapter.domain.pricing import PersonalReason, PricedLine
from adapter.domain.rules import Finding, Rule

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
DEVICE_ITEM_SUMMED = Rule(
    "PR_DEVICE_ITEM_SUMMED",
    "N§34, B§35",
    "同一器具本次配置共{lines}行，合计{total}元，按一个最高支付限额（{limit}元）计算；"
    "本行基金支付{fund}元",
)
DEVICE_NOT_IN_CATALOGUE = Rule(
    "PR_DEVICE_NOT_IN_CATALOGUE",
    "N§32, N§34",
    "不在参保地辅助器具配置目录内，基金不予支付，由个人支付",
)
DEVICE_NOT_ON_NOTICE = Rule(
    "PR_DEVICE_NOT_ON_NOTICE",
    "N§34, B§34",
    "未列入核付通知单：{name}不在参保地配置费用核付通知单上，基金不予支付，由个人支付",
)
DEVICE_MIN_YEARS = Rule(
    "PR_DEVICE_MIN_YEARS",
    "N§34, 附表2",
    "最低使用年限内更换：距上次配置（{last}，{where}）未满最低使用年限（{years}年），"
    "参保地核付通知单未核准本次更换，费用由个人支付",
)
DEVICE_NOTICE_USED = Rule(
    "PR_DEVICE_NOTICE_USED",
    "N§34, N§38, 附表2",
    "同一核付通知单再次配置：{name}已于{last}在{where}按本核付通知单（{notice}）配置并由基金"
    "支付，该通知单未核准再次配置，费用由个人支付（杜绝重复报销）",
)
DEVICE_REPLACEMENT_APPROVED = Rule(
    "PR_DEVICE_REPLACEMENT_APPROVED",
    "N§34, 附表2",
    "{name}距上次配置（{last}，{where}）未满最低使用年限（{years}年），"
    "参保地核付通知单（{notice}）已核准更换，按最高支付限额支付",
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


@dataclass(frozen=True)
class EarlierFitting:
    """The worker's latest fitting of one item the fund paid or is asked to (a manual-claim
    case's, ``where`` naming the case): what the counter is shown."""

    device_code: str
    device_name: str
    fitted_on: date
    where: str  # the institution's name (and code)
    notice_no: str  # the approval notice it was settled under
    min_years: int = 0  # the item's minimum years on that fitting's filing (0: unknown)
    slip_no: str = ""
    # The latest fitting of the item that the notice presented now paid, when this latest
    # one was paid under another (:func:`.device_cases.latest`, given that notice; ignored
    # for any other): one approval pays an item once
    paid_by_notice: EarlierFitting | None = None


@dataclass(frozen=True)
class Replacement:
    """A fitting of an item inside its minimum years since ``earlier``."""

    earlier: EarlierFitting
    min_years: int
    covered: bool  # a new approval notice lists the item: priced against its limit

    @property
    def rule(self) -> Rule:
        """Why the counter is warned: an approved replacement, one inside the minimum years
        the worker pays, or (no minimum years known) the notice that already paid it again."""
        if self.covered:
            return DEVICE_REPLACEMENT_APPROVED
        return DEVICE_MIN_YEARS if self.min_years > 0 else DEVICE_NOTICE_USED

    def details(self, notice: str) -> dict[str, object]:
        """The rule's message fields; ``notice``: the one presented now."""
        return {
            "name": self.earlier.device_name or self.earlier.device_code,
            "last": self.earlier.fitted_on.isoformat(),
            "where": self.earlier.where,
            "years": self.min_years,
            "notice": notice,
        }


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def replacement(
    code: str, filing: Filing, earlier: Mapping[str, EarlierFitting], fitted_on: date
) -> Replacement | None:
    """The replacement a fitting of ``code`` on ``fitted_on`` is, if inside the minimum years
    (the filed item's, else the earlier fitting's); ``covered`` as the module docstring says.
    Without minimum years (0: none known) only the notice that paid the earlier fitting
    presented again makes one, never covered (the module docstring, "the same notice")."""
    filed = filing.device(code)
    return replacement_of(
        earlier.get(code),
        filed,
        listed=filed is not None,
        notice=filing.approval_notice_no,
        fitted_on=fitted_on,
    )


def replacement_of(
    previous: EarlierFitting | None,
    filed: FiledDevice | None,
    *,
    listed: bool,
    notice: str,
    fitted_on: date,
) -> Replacement | None:
    """:func:`replacement` from its parts: the item's earlier fitting, the filed item (its
    minimum years), whether ``notice`` — the one presented now — lists the item."""
    if previous is None:
        return None
    years = filed.min_years if filed is not None else previous.min_years
    # one notice however a filing spells it (〔2026〕 = (２０２６), B§34): a changed filing
    # re-typing the notice that paid the earlier fitting is not a new approval — nor is a
    # notice that paid an earlier one, another notice having paid the item since
    paid = next(
        (f for f in (previous, previous.paid_by_notice) if f and same_notice(f.notice_no, notice)),
        None,
    )
    if years <= 0:
        # No window to count, but one approval never pays the item twice (N§34, N§38). An
        # item off the notice is the worker's anyway (DEVICE_NOT_ON_NOTICE).
        if listed and paid is not None:
            return Replacement(paid, 0, covered=False)
        return None
    if paid is not None and fitted_on < add_years(paid.fitted_on, years):
        return Replacement(paid, years, covered=False)
    if fitted_on >= add_years(previous.fitted_on, years):
        return None
    return Replacement(previous, years, covered=listed)


def device_warnings(
    items: Sequence[DeviceItem],
    filing: Filing,
    earlier: Mapping[str, EarlierFitting],
    fitted_on: date,
) -> tuple[Finding, ...]:
    """What the counter is told before it fits: items off the notice (the worker pays them),
    replacements inside the minimum years — approved by a new notice, or not (the worker pays
    them if the counter goes on; these need confirming, see :func:`unconfirmed`)."""
    found: list[Finding] = []
    for code, names in _by_code(items).items():
        again = replacement(code, filing, earlier, fitted_on)
        if again is not None:
            found.append(again.rule.warned(code, **again.details(filing.approval_notice_no)))
        elif filing.device(code) is None:
            found.append(DEVICE_NOT_ON_NOTICE.warned(code, name=names or code))
    return tuple(found)


def unconfirmed(warnings: Sequence[Finding]) -> tuple[Finding, ...]:
    """The warnings the counter must confirm before settling: replacements the worker pays,
    and items the notice presented already paid once."""
    return tuple(w for w in warnings if w.code in (DEVICE_MIN_YEARS.code, DEVICE_NOTICE_USED.code))


def _by_code(items: Sequence[DeviceItem]) -> dict[str, str]:
    names: dict[str, str] = {}
    for item in items:
        names.setdefault(item.device_code, item.device_name)
    return names


def _line(item: DeviceItem, number: int, fitted_at: datetime) -> FeeLine:
    if item.actual_cost <= 0 or not is_fen(item.actual_cost):
        raise PricingError(
            f"辅助器具{item.device_name}的实际费用须为大于0且精确到分的金额",
            code="DEVICE_COST_INVALID",
        )
    return FeeLine(
        line_id=item.line_id or f"D{number:03d}",
        item_code=item.device_code,
        item_name=item.device_name,
        category=FeeCategory.DEVICE,
        quantity=Decimal(1),
        unit_price=item.actual_cost,
        amount=item.actual_cost,
        occurred_at=fitted_at,
    )


def _workers(
    line: FeeLine, entry: CatalogueItem | None, rule: Rule, **details: object
) -> PricedLine:
    message = rule.message.format(**details)
    return PricedLine(
        line, entry, ZERO, line.amount, rule, PersonalReason.OUT_OF_CATALOGUE, message
    )


def _within_limit(
    lines: Sequence[FeeLine], entry: CatalogueItem, limit: Decimal
) -> list[PricedLine]:
    """The lines of one item against one limit: the fund pays the sum up to the limit, taken
    line by line in order; the worker pays the rest (N§34, B§35)."""
    limit = limit.quantize(FEN)  # a limit sent as 1500 is 1500.00 (stored limits are fen)
    total = sum((line.amount for line in lines), ZERO)
    over = total > limit
    rule = DEVICE_OVER_LIMIT if over else DEVICE_WITHIN_LIMIT
    remaining = limit
    priced = []
    for line in lines:
        fund = min(line.amount, remaining)
        remaining -= fund
        personal = line.amount - fund
        if len(lines) == 1:
            message = rule.message.format(limit=limit)
        else:
            message = DEVICE_ITEM_SUMMED.message.format(
                lines=len(lines), total=total, limit=limit, fund=fund
            )
        reason = PersonalReason.OVER_LIMIT if personal else None
        priced.append(PricedLine(line, entry, fund, personal, rule, reason, message, limit))
    return priced


def price_devices(
    items: Sequence[DeviceItem],
    filing: Filing,
    catalogue: Catalogue,
    insured_region: str,
    fitted_at: datetime,
    earlier: Mapping[str, EarlierFitting] | None = None,
) -> tuple[PricedLine, ...]:
    """Price a fitting's device items against the catalogue of ``insured_region`` (the region
    whose catalogue applies); ``earlier`` maps device codes to the worker's earlier fittings.
    Lines keep their order; the lines of one item share one limit."""
    earlier = earlier or {}
    fitted_on = fitted_at.date()
    notice = [d.device_code for d in filing.devices]
    check_code_case(items, notice, catalogue, insured_region, fitted_on)  # before: worker pays
    lines = [_line(item, number, fitted_at) for number, item in enumerate(items, start=1)]
    positions: dict[str, list[int]] = {}
    for position, line in enumerate(lines):
        positions.setdefault(line.item_code, []).append(position)
    priced: list[PricedLine | None] = [None] * len(lines)
    for code, at in positions.items():
        group = [lines[p] for p in at]
        filed = filing.device(code)
        entry = catalogue.lookup(CatalogueKind.DEVICE, insured_region, code, fitted_on)
        again = replacement(code, filing, earlier, fitted_on)
        if again is not None and not again.covered:
            details = again.details(filing.approval_notice_no)
            found = [_workers(line, entry, again.rule, **details) for line in group]
        elif filed is None:
            name = group[0].item_name or code
            found = [_workers(line, entry, DEVICE_NOT_ON_NOTICE, name=name) for line in group]
        elif entry is None:
            found = [_workers(line, entry, DEVICE_NOT_IN_CATALOGUE) for line in group]
        else:
            found = _within_limit(group, entry, applicable_limit(filed, entry).amount)
        for position, result in zip(at, found, strict=True):
            priced[position] = result
    return tuple(p for p in priced if p is not None)
