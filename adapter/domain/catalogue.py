"""Cost catalogues (目录) and the index pricing looks items up in.

Medical and rehab stays follow the *treatment place's* catalogues — drugs, treatment items,
inpatient service standards, rehab items (N§32, B§30). Devices follow the *insured
place's* device catalogue (N§32, B§35). Each item belongs to a region and a version with an
effective date; pricing uses the version in force on the fee's date.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class CatalogueKind(StrEnum):
    DRUG = "drug"  # 工伤保险药品目录
    TREATMENT = "treatment"  # 诊疗项目目录
    SERVICE_STANDARD = "service_standard"  # 住院服务标准 (price cap per unit)
    REHAB = "rehab"  # 工伤康复服务项目
    DEVICE = "device"  # 辅助器具配置目录 (insured place; maximum payment limit)

    @property
    def label(self) -> str:
        return {
            "drug": "药品",
            "treatment": "诊疗项目",
            "service_standard": "住院服务",
            "rehab": "康复项目",
            "device": "辅助器具",
        }[self.value]


@dataclass(frozen=True)
class CatalogueItem:
    kind: CatalogueKind
    code: str
    name: str
    region: str  # division code the catalogue belongs to
    unit: str = ""
    price_cap: Decimal | None = None  # per unit; fund pays up to it (service standards)
    limit: Decimal | None = None  # device maximum payment limit (最高支付限额)
    version: str = ""
    valid_from: date = date.min
    # None: until replaced by a later version; a date: in force to it (inclusive), also
    # under a later version that ends before it (:meth:`Catalogue.lookup`)
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


# A rehab service item (工伤康复服务项目) is a treatment item (诊疗项目) in the price lists
# HIS systems bill from, so a HIS sends 运动疗法 as either; N§32 pays an item of either of the
# treatment place's catalogues, so a line is looked up in the other when its own lacks it.
BILLED_ALIKE = {
    CatalogueKind.TREATMENT: CatalogueKind.REHAB,
    CatalogueKind.REHAB: CatalogueKind.TREATMENT,
}


class Catalogue:
    """An in-memory index: (kind, region, code) → versions sorted by effective date.

    Lookup is a dict hit plus a bisect over that item's few versions, never a scan of the
    catalogue, so a 5,000-line bill against 50,000 items prices in milliseconds.
    """

    def __init__(self, items: Iterable[CatalogueItem] = ()):
        self._index: dict[tuple[CatalogueKind, str, str], list[CatalogueItem]] = {}
        self._starts: dict[tuple[CatalogueKind, str, str], list[date]] = {}
        # code.casefold() → the codes written so: a code sent in another letter case is
        # named to the counter (:mod:`.device_codes`), never priced as this one
        self._folded: dict[tuple[CatalogueKind, str, str], set[str]] = {}
        for item in items:
            self.add(item)

    def add(self, item: CatalogueItem) -> None:
        """Of versions in force from the same day, the one added last is the one looked up:
        add them in the order they were loaded, and the later-loaded one prices."""
        key = (item.kind, item.region, item.code)
        versions = self._index.setdefault(key, [])
        versions.append(item)
        versions.sort(key=lambda v: v.valid_from)
        self._starts[key] = [v.valid_from for v in versions]
        self._folded.setdefault((item.kind, item.region, item.code.casefold()), set()).add(
            item.code
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def lookup_billed(
        self, kind: CatalogueKind, region: str, code: str, on: date
    ) -> CatalogueItem | None:
        """The item a fee line billed under ``kind`` is paid as: its own catalogue's, else,
        for a treatment or rehab item, the other's (:data:`BILLED_ALIKE`)."""
        item = self.lookup(kind, region, code, on)
        alike = BILLED_ALIKE.get(kind)
        if item is None and alike is not None:
            item = self.lookup(alike, region, code, on)
        return item

    def codes_ignoring_case(
        self, kind: CatalogueKind, region: str, code: str, on: date
    ) -> tuple[str, ...]:
        """The codes in force on ``on`` that are ``code`` but for letter case, sorted (``code``
        itself among them when it is in force)."""
        written = self._folded.get((kind, region, code.casefold()), set())
        return tuple(sorted(c for c in written if self.lookup(kind, region, c, on) is not None))

    def lookup(self, kind: CatalogueKind, region: str, code: str, on: date) -> CatalogueItem | None:
        """The version of ``code`` in force on ``on``, or ``None`` if it is not in the catalogue."""
        key = (kind, region, code)
        versions = self._index.get(key)
        if not versions:
            return None
        position = bisect.bisect_right(self._starts[key], on) - 1
        if position < 0:
            return None
        item = versions[position]
        if item.in_force(on):
            return item
        # The latest version started by ``on`` has ended: a version it was laid over, one
        # with its own end date still to come (a year's standard under a temporary one), is
        # in force by its own dates. One without an end date was replaced by the later
        # version, as was one from the same day loaded earlier (see :meth:`add`).
        for earlier in reversed(versions[:position]):
            if (
                earlier.valid_to is not None
                and earlier.valid_from < item.valid_from
                and earlier.in_force(on)
            ):
                return earlier
        return None
