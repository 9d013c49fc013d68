"""The worker as the card and upstream know them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Gender(StrEnum):
    MALE = "1"
    FEMALE = "2"
    UNKNOWN = "9"

    @property
    def label(self) -> str:
        return {"1": "男", "2": "女", "9": "未知"}[self.value]


class CardKind(StrEnum):
    PHYSICAL = "physical"  # 社会保障卡
    ECARD = "ecard"  # 电子社保卡 (QR token verified upstream)


class CardStatus(StrEnum):
    NORMAL = "normal"
    LOST = "lost"  # 挂失
    FROZEN = "frozen"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # 注销

    @property
    def label(self) -> str:
        return {
            "normal": "正常",
            "lost": "已挂失",
            "frozen": "已冻结",
            "expired": "已过期",
            "cancelled": "已注销",
        }[self.value]


@dataclass(frozen=True)
class CardData:
    """What a card reader (or the e-card verification) yields (N§45, B§46)."""

    kind: CardKind
    card_no: str = ""
    citizen_id: str = ""
    name: str = ""
    gender: Gender = Gender.UNKNOWN
    issuing_region: str = ""
    card_sn: str = ""  # card identifier (卡识别码)
    status: CardStatus = CardStatus.NORMAL
    qr_token: str = ""
    expires_on: date | None = None


@dataclass(frozen=True)
class Person:
    """The insured worker as upstream knows them (WI1101)."""

    psn_no: str
    citizen_id: str
    name: str
    gender: Gender
    birth_date: date | None
    insured_admdvs: str  # 参保地 (insured place) administrative division code
    card_no: str = ""
    card_sn: str = ""
    card_status: CardStatus = CardStatus.NORMAL


@dataclass(frozen=True)
class Suspension:
    """Direct settlement suspended for serious violations (N§49, B§52)."""

    psn_no: str
    since: date
    reason: str
    until: date | None = None

    def in_force(self, on: date) -> bool:
        return self.since <= on and (self.until is None or on <= self.until)


# The dot inside a minority name (阿依古丽·买买提) as keyboards and card readers type it.
_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "．": "·", ".": "·", "∙": "·"})


def identity_key(text: str) -> str:
    """A name, citizen ID or card number as a clerk compares a card with the worker (B§28
    实名): full-width forms folded (NFKC), spaces dropped, the ID's check digit ``x`` read as
    GB 11643's ``X``, the dot of a minority name typed in any of its forms read as one.

    Every comparison of a worker's identity reads it so: the card check at admission and
    the check that a later message names the stay's own worker must not disagree, or an ID
    the card check passed gets the worker's own update refused as another worker's."""
    folded = "".join(unicodedata.normalize("NFKC", text).split())
    return folded.translate(_NAME_DOTS).upper()


def same_identity(first: str, second: str) -> bool | None:
    """Do two names, citizen IDs or card numbers name the same worker, read as
    :func:`identity_key` reads them? ``None`` when either is blank: nothing to compare."""
    first, second = identity_key(first), identity_key(second)
    if not first or not second:
        return None
    return first == second


def mask_citizen_id(value: str) -> str:
    """Keep the region (first 6) and the last 4: 110101199001011234 → 110101********1234."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_card_no(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_phone(value: str) -> str:
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)
