"""Earlier fittings recorded as manual-claim cases (手工报销, N§38, B§27) and what they make of a
fitting recorded as a case now (N§34, 附表2).

A case's fee list goes to the insured place, which reimburses it from the fund: its items
start the minimum-years clock and use up the notice like a settled fitting's (N§34; N§38
杜绝重复报销). So the minimum-years and same-notice rules (:func:`.devices.replacement_of`)
see them too — at a direct fitting, at a case's switch to direct settlement, and when a
second case is recorded while upstream is down. An item a case lists as the worker's (a
repeat the counter confirmed) is claimed from nobody and starts no clock.

Recording a case, upstream cannot say what the notice lists: the notice as typed is read
as listing the items entered (the insured place checks that when it reviews the list), and
the minimum years are the worker's stored filing's when the store knows it, else the
earlier fitting's (0: none known — then only the same notice again counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from adapter.domain.devices import DeviceItem, EarlierFitting, replacement_of, unconfirmed
from adapter.domain.filings import Filing, FilingPurpose, same_notice
from adapter.domain.rules import Finding

# What the case's fee list says of the items the worker pays (N§34, N§38, 附表2).
WORKER_PAYS_NOTE = (
    "本清单中标明由个人支付的器具，为最低使用年限内更换或同一核付通知单再次配置，经告知工伤"
    "职工后配置，费用由个人支付，不申请报销（N§34、N§38、附表2）。"
)


@dataclass(frozen=True)
class CaseItem:
    """One item as a case recorded it (its fee list's ``fitting.items``)."""

    device_code: str
    device_name: str
    worker_pays: bool  # a confirmed repeat: nothing of it claimed


def case_items(fitting: Mapping[str, object]) -> tuple[CaseItem, ...]:
    """The items of a case's ``fitting`` (its fee list's), as recorded."""
    items = fitting.get("items", ())
    return tuple(
        CaseItem(
            str(i.get("device_code", "")),
            str(i.get("device_name") or i.get("device_code", "")),
            bool(i.get("worker_pays")),
        )
        for i in (items if isinstance(items, list) else ())
        if isinstance(i, dict)
    )


def min_years_of(filings: Iterable[Filing], notice: str, code: str) -> int:
    """The item's minimum years on the worker's device filing carrying ``notice`` (0: none
    known)."""
    for filing in filings:
        carries = same_notice(filing.approval_notice_no, notice)
        filed = filing.device(code) if filing.purpose is FilingPurpose.DEVICE else None
        if carries and filed is not None:
            return filed.min_years
    return 0


def latest(*found: Iterable[EarlierFitting], notice: str = "") -> dict[str, EarlierFitting]:
    """Each item's latest earlier fitting among ``found`` (settled ones, cases); with
    ``notice`` (the one presented now), each carries the latest fitting that notice paid when
    another paid the item since (:attr:`EarlierFitting.paid_by_notice`)."""
    result: dict[str, EarlierFitting] = {}
    paid: dict[str, EarlierFitting] = {}
    for fittings in found:
        for fitting in fittings:
            _keep_latest(result, fitting)
            if same_notice(fitting.notice_no, notice):
                _keep_latest(paid, fitting)
    for code, fitting in result.items():
        by_notice = paid.get(code)
        if by_notice is not None and by_notice is not fitting:
            result[code] = replace(fitting, paid_by_notice=by_notice)
    return result


def _keep_latest(kept: dict[str, EarlierFitting], fitting: EarlierFitting) -> None:
    known = kept.get(fitting.device_code)
    if known is None or fitting.fitted_on > known.fitted_on:
        kept[fitting.device_code] = fitting


def case_repeats(
    items: Sequence[DeviceItem],
    notice: str,
    filing: Filing | None,
    earlier: Mapping[str, EarlierFitting],
    fitted_on: date,
) -> tuple[Finding, ...]:
    """The items of a fitting recorded as a case now that repeat an earlier fitting (settled
    or a case) and that the counter must confirm the worker pays: the same notice again, or
    inside the minimum years without a new notice (:func:`.devices.unconfirmed`). ``filing``:
    the worker's stored device filing carrying ``notice``, when the store knows one."""
    found: list[Finding] = []
    for code in dict.fromkeys(i.device_code for i in items):
        filed = filing.device(code) if filing is not None else None
        again = replacement_of(
            earlier.get(code),
            filed,
            listed=filed is not None if filing is not None else True,
            notice=notice,
            fitted_on=fitted_on,
        )
        if again is not None:
            found.append(again.rule.warned(code, **again.details(notice)))
    return unconfirmed(found)


def claimed_split(
    items: Sequence[DeviceItem], repeats: Sequence[Finding]
) -> tuple[Decimal, Decimal]:
    """A case's list: (claimed from the insured place, the worker's) — the confirmed repeats
    are the worker's; the two add up to the items' total."""
    theirs = {f.field for f in repeats}
    personal = sum((i.actual_cost for i in items if i.device_code in theirs), Decimal("0"))
    total = sum((i.actual_cost for i in items), Decimal("0"))
    return total - personal, personal
