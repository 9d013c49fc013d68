"""A device item code sent in another letter case than the insured place's device catalogue
or the payment approval notice writes it (N§32, N§34, B§35).

No source says these codes fold case, so ``sh-fz-0305`` is not ``SH-FZ-0305``: priced as sent,
the item reads as off the notice and out of the catalogue, and the worker silently pays what
the fund pays; folded here, the adapter would decide for the insured place that the two are
one item. The fitting is refused before anything is written instead, naming each such line,
the code as sent and the code it matches, and the counter enters that code.

A code the catalogue (in force on the day) or the notice lists exactly is taken as it is, even
beside a row that differs only in case; one that matches nothing even ignoring case is out of
the catalogue as before (N§32, N§34).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from adapter.domain.catalogue import Catalogue, CatalogueKind
from adapter.domain.errors import PricingError

ARTICLE = "N§32, N§34, B§35"


class EnteredItem(Protocol):
    """An item as entered (:class:`.devices.DeviceItem`, which imports this module)."""

    @property
    def device_code(self) -> str: ...

    @property
    def device_name(self) -> str: ...


@dataclass(frozen=True)
class _Wrong:
    """One line whose code is the catalogue's or the notice's but for letter case."""

    index: int
    sent: str
    name: str  # "（name）", or "" when the item has none but its code
    where: str  # whose code it matches
    codes: str  # the code(s) to enter, quoted
    ask: str  # "目录编码" or the notice's

    @property
    def field(self) -> str:
        return f"items.{self.index}.device_code"


def check_code_case(
    items: Sequence[EnteredItem],
    notice_codes: Collection[str],
    catalogue: Catalogue | None,
    region: str,
    on: date,
) -> None:
    """:class:`PricingError` ``DEVICE_CODE_CASE`` naming every item whose code is on neither
    the notice (``notice_codes``) nor ``region``'s catalogue on ``on`` as sent, but is on
    either in another letter case; the field is the first such line's code. ``catalogue``
    ``None``: none is known (a manual-claim case with upstream down)."""
    wrong: list[_Wrong] = []
    for index, item in enumerate(items):
        code = item.device_code
        listed = (
            catalogue.codes_ignoring_case(CatalogueKind.DEVICE, region, code, on)
            if catalogue is not None
            else ()
        )
        if code in listed or code in notice_codes:
            continue
        noticed = sorted(c for c in notice_codes if c.casefold() == code.casefold())
        if listed or noticed:
            wrong.append(_wrong(index, item, listed, noticed))
    if not wrong:
        return
    first, *more = wrong
    others = "".join(
        f"；第{w.index + 1}件器具{w.name}的编码“{w.sent}”同样（{w.field}），"
        f"请按{w.ask}{w.codes}录入"
        for w in more
    )
    raise PricingError(
        f"第{first.index + 1}件器具{first.name}的编码“{first.sent}”与{first.where}的编码"
        f"{first.codes}仅字母大小写不同（{first.field}）：编码不按大小写自动转换，按所填编码将"
        f"视为目录外、由个人全额支付；请按{first.ask}{first.codes}录入{others}",
        code="DEVICE_CODE_CASE",
        article=ARTICLE,
        field=first.field,
    )


def _wrong(index: int, item: EnteredItem, listed: Sequence[str], noticed: Sequence[str]) -> _Wrong:
    """The code to enter: the catalogue's (the one the notice also lists, if any), else the
    notice's."""
    meant = [c for c in listed if c in noticed] or list(listed)
    named = item.device_name not in ("", item.device_code)
    return _Wrong(
        index,
        item.device_code,
        f"（{item.device_name}）" if named else "",
        "参保地辅助器具配置目录" if meant else "配置费用核付通知单",
        "或".join(f"“{c}”" for c in meant or noticed),
        "目录编码" if meant else "核付通知单上的编码",
    )
