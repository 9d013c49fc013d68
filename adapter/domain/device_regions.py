"""Where the insured place's device catalogue of a fitting's day is found (N§32, N§34, B§35).

Devices follow the insured place's catalogue (N§32), and a catalogue that is simply not loaded
is not "out of catalogue" (docs/domain.md, pricing table): the service fetches it before
pricing, falling back from the district to its city and province (:func:`catalogue_regions`),
and refuses with :data:`DEVICE_CATALOGUE_MISSING` only when none exists — and with
:data:`DEVICE_CATALOGUE_NOT_IN_FORCE` when the region's own catalogue is loaded in no version
in force on the fitting's day: priced as of that day, every item would read as off the
catalogue and the worker would pay all.
"""

from __future__ import annotations

from adapter.domain.rules import Rule

DEVICE_CATALOGUE_MISSING = Rule(
    "PR_DEVICE_CATALOGUE_MISSING",
    "N§32, N§34",
    "未能取得参保地辅助器具配置目录（已依次查询{regions}，上级系统均无该目录），"
    "无法按参保地目录和最高支付限额结算，请联系参保地经办机构或信息科",
)
DEVICE_CATALOGUE_NOT_IN_FORCE = Rule(
    "PR_DEVICE_CATALOGUE_NOT_IN_FORCE",
    "N§32, N§34",
    "参保地辅助器具配置目录（{region}）已载入，但没有配置日期{day}适用的版本，无法按当日的目录"
    "和最高支付限额结算（不按目录外由个人支付）；请信息科补载该日适用的目录版本，或联系参保地经办机构",
)


def catalogue_regions(region: str) -> tuple[str, ...]:
    """Where the insured place's device catalogue may be published, most specific first: the
    district itself, its city (first four digits + ``00``), its province (first two + ``0000``)."""
    found: list[str] = []
    for candidate in (region, region[:4] + "00", region[:2] + "0000"):
        if len(candidate) == 6 and candidate.isdigit() and candidate not in found:
            found.append(candidate)
    return tuple(found) or (region,)
