"""The agreement institution (协议机构) running this adapter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DirectSettlementStatus(StrEnum):
    """Status in the national agreement-institution library (N§17, B§23)."""

    ENABLED = "enabled"
    SUSPENDED = "suspended"  # 中止协议
    TERMINATED = "terminated"  # 终止协议
    CLOSED = "closed"  # 停业或歇业

    @property
    def label(self) -> str:
        return {
            "enabled": "已开通直接结算",
            "suspended": "协议中止",
            "terminated": "协议终止",
            "closed": "停业或歇业",
        }[self.value]


@dataclass(frozen=True)
class Institution:
    code: str  # fixmedins_code
    name: str
    kinds: frozenset[str]  # what it settles: "medical", "rehab", "device"
    admdvs: str  # the city it is in (treatment place)
    status: DirectSettlementStatus = DirectSettlementStatus.ENABLED


MUNICIPALITY_PREFIXES = frozenset({"11", "12", "31", "50"})  # 北京 天津 上海 重庆
PROVINCE_ADMINISTERED = "90"  # the CC of 省直辖县级行政区划 (GB/T 2260)


def same_treatment_place(filed: str, institution: str) -> bool:
    """Filings are made to a city, or to a municipality as a whole (N§12).

    Division codes are PPCCDD: two cities match on PPCC; inside a municipality every
    district belongs to the one treatment place, so PP is enough. CC ``90`` is no city but
    the province's directly administered county-level cities (省直辖县级行政区划: 仙桃 429004,
    石河子 659001), each its own place: those match on the whole code.
    """
    if len(filed) < 4 or len(institution) < 4:
        return False
    if filed[:2] in MUNICIPALITY_PREFIXES:
        return filed[:2] == institution[:2]
    if filed[2:4] == PROVINCE_ADMINISTERED:
        return filed[:6] == institution[:6]
    return filed[:4] == institution[:4]
