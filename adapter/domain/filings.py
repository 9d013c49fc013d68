"""The filing (备案): the worker's registration for cross-province treatment.

Fields follow 附表1 (medical/rehab filing form) and 附表2 (device filing form) of the
Beijing rules; validity is set by the insured province (N§11), change and cancellation follow
N§15. (The Beijing filing articles, chapter 2, govern Beijing-insured workers, not ours.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum


class FilingCategory(StrEnum):
    """Why the worker is treated away from the insured place (N§4)."""

    LONG_TERM_RESIDENCE = "long_term_residence"  # 异地长期居住
    RESIDENT_WORK = "resident_work"  # 常驻异地工作
    REFERRAL = "referral"  # 异地转诊转院

    @property
    def label(self) -> str:
        return {
            "long_term_residence": "异地长期居住",
            "resident_work": "常驻异地工作",
            "referral": "异地转诊转院",
        }[self.value]


class FilingPurpose(StrEnum):
    MEDICAL = "medical"  # 就医
    REHAB = "rehab"  # 康复
    DEVICE = "device"  # 辅助器具配置

    @property
    def label(self) -> str:
        return {"medical": "就医", "rehab": "康复", "device": "辅助器具配置"}[self.value]


class FilingStatus(StrEnum):
    ACTIVE = "active"
    CHANGED = "changed"  # replaced by a successor filing (N§15)
    CANCELLED = "cancelled"  # 取消备案 (N§15)
    TERMINATED = "terminated"  # ended by loss of eligibility (N§11, N§15)

    @property
    def label(self) -> str:
        return {
            "active": "有效",
            "changed": "已变更",
            "cancelled": "已取消",
            "terminated": "已终止（丧失待遇资格）",
        }[self.value]


class FilingType(StrEnum):
    NEW = "new"  # 新增
    CHANGE = "change"  # 变更


class Applicant(StrEnum):
    SELF = "self"  # 本人
    RELATIVE = "relative"  # 工伤职工近亲属
    EMPLOYER = "employer"  # 用人单位 (附表2 only)


@dataclass(frozen=True)
class FiledDevice:
    """One device item on a device filing (附表2): name, minimum years, maximum payment."""

    device_code: str
    device_name: str
    min_years: int
    limit: Decimal  # 最高支付限额, yuan


@dataclass(frozen=True)
class Filing:
    filing_no: str  # 编号
    psn_no: str
    purpose: FilingPurpose
    category: FilingCategory
    treatment_admdvs: str  # 就医地 (city or municipality) division code
    valid_from: date  # 备案有效期 起
    valid_to: date  # 备案有效期 止 (inclusive)
    filed_on: date  # the day the agency approved it
    status: FilingStatus = FilingStatus.ACTIVE
    name: str = ""
    gender: str = ""
    citizen_id: str = ""
    injury_parts: tuple[str, ...] = ()  # 受伤部位
    injury_decision_no: str = ""  # 工伤认定决定书文（编）号
    phone: str = ""
    address: str = ""
    filing_type: FilingType = FilingType.NEW
    applicant: Applicant = Applicant.SELF
    relative_name: str = ""
    relative_citizen_id: str = ""
    relative_phone: str = ""
    employer_name: str = ""
    employer_credit_code: str = ""
    employer_contact: str = ""
    employer_phone: str = ""
    treatment_province: str = ""
    insured_admdvs: str = ""  # 参保地
    agency_opinion: str = ""  # 参保地经办机构意见
    terminated_on: date | None = None  # loss of eligibility (N§15) or cancellation date
    successor_no: str = ""  # the filing that replaced a changed one
    third_party_liability: bool = False
    device_assessment_no: str = ""  # 辅助器具配置结论书文（编）号 (附表2)
    approval_notice_no: str = ""  # 配置费用核付通知单文（编）号 (附表2)
    devices: tuple[FiledDevice, ...] = field(default=())

    @property
    def person_category(self) -> str:
        """The 附表1/附表2 person category, e.g. 异地长期居住康复人员."""
        if self.purpose is FilingPurpose.DEVICE:
            short = {"referral": "转诊转院"}.get(self.category.value, self.category.label)
            return f"{short}人员"
        return f"{self.category.label}{self.purpose.label}人员"

    @property
    def effective_to(self) -> date:
        """Last day of validity: a filing ended early (N§11, N§15) ends the day before."""
        if self.terminated_on is not None:
            return min(self.valid_to, self.terminated_on - timedelta(days=1))
        return self.valid_to

    @property
    def open_ended(self) -> bool:
        """Valid until changed or cancelled: upstream set no end date (N§11, N§15)."""
        return self.effective_to == date.max

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.effective_to

    def status_on(self, day: date) -> str:
        """The status a clerk reads for ``day`` (N§11, N§15), not the stored one: a filing
        whose validity ended is 已过期 although upstream still stores it as active."""
        ended = self.terminated_on is not None and self.terminated_on <= day
        if self.status is FilingStatus.TERMINATED and (self.terminated_on is None or ended):
            return "已终止"
        if self.status is FilingStatus.CHANGED:
            return "已变更"
        if self.status is FilingStatus.CANCELLED and (self.terminated_on is None or ended):
            return "已撤销"
        if day > self.effective_to:
            return "已过期"
        if day < self.valid_from:
            return "未生效"
        return "有效"

    def device(self, device_code: str) -> FiledDevice | None:
        return next((d for d in self.devices if d.device_code == device_code), None)


def changed_on(filing: Filing, filings: Iterable[Filing]) -> date | None:
    """The day a changed filing was replaced (N§15): its own end date, else the day its
    successor took effect; None when neither is known."""
    if filing.status is not FilingStatus.CHANGED:
        return None
    if filing.terminated_on is not None:
        return filing.terminated_on
    successor = next((f for f in filings if f.filing_no == filing.successor_no), None)
    return successor.valid_from if successor is not None else None


def changed_after(filing: Filing, day: date, filings: Iterable[Filing]) -> bool:
    """Was ``filing`` changed only after ``day``, so it still governs an encounter that
    started on ``day`` (N§13, N§15)?"""
    changed = changed_on(filing, filings)
    return changed is not None and changed > day


def current_filings(filings: Iterable[Filing], on: date | None = None) -> list[Filing]:
    """The filings that govern an encounter starting ``on``: changed ones followed to their
    successors (N§15).

    A successor governs only encounters that start after the change (N§15): for an encounter
    that started before it (registered late, or a manual-claim case switched to direct), the
    changed filing stays and its successor is dropped, so the stay is checked against the
    filing in force at admission (N§13). Otherwise (or with no ``on``) a changed filing whose
    successor is known is dropped in favour of it; one whose successor is not among
    ``filings`` stays, so the eligibility check can say it was changed.
    """
    by_no = {f.filing_no: f for f in filings}
    still_in_force = (
        {no for no, f in by_no.items() if changed_after(f, on, by_no.values())}
        if on is not None
        else set()
    )
    superseded = {by_no[no].successor_no for no in still_in_force}
    result: list[Filing] = []
    for filing in by_no.values():
        if filing.filing_no in superseded:
            continue
        if (
            filing.status is FilingStatus.CHANGED
            and filing.successor_no in by_no
            and filing.filing_no not in still_in_force
        ):
            continue
        result.append(filing)
    return sorted(result, key=lambda f: (f.valid_from, f.filing_no))


# -- injury parts (受伤部位, 附表1): matched as a clerk would, not as exact text -----------------

_SIDE_WORDS = (("左侧", "左"), ("右侧", "右"), ("双侧", "双"), ("两侧", "双"))
_PART_SUFFIXES = ("部位", "部")


def normalise_part(text: str) -> str:
    """The injury part as a clerk reads it: ``左手部`` = ``左手`` = `` 左 手 `` = ``左侧手``.

    Full-width forms are folded (NFKC), spaces dropped, ``左侧``/``右侧``/``双侧`` read as
    ``左``/``右``/``双``, and a trailing ``部``/``部位`` ignored (``腰部`` = ``腰``).
    """
    folded = "".join(unicodedata.normalize("NFKC", text).split())
    for long, short in _SIDE_WORDS:
        folded = folded.replace(long, short)
    for suffix in _PART_SUFFIXES:
        if folded.endswith(suffix) and len(folded) > len(suffix):
            folded = folded[: -len(suffix)]
            break
    return folded


def part_is_filed(part: str, filed: Sequence[str]) -> bool:
    """Is ``part`` one of the ``filed`` parts? A filed ``双手`` covers ``左手`` and ``右手``; a
    filed ``手部`` (no side given) covers either side; ``左手`` and ``右手`` filed cover ``双手``.
    One side filed never covers the other, nor both."""
    key = normalise_part(part)
    keys = {normalise_part(f) for f in filed}
    if key in keys:
        return True
    side, body = key[:1], key[1:]
    if side not in ("左", "右", "双") or not body:
        return False
    if body in keys:
        return True
    if side == "双":
        return {f"左{body}", f"右{body}"} <= keys
    return f"双{body}" in keys


# How a clerk or a HIS lists several parts in one field: 左手、右前臂 (or with a comma).
_PART_SEPARATORS = re.compile(r"[、，,；;]")


def listed_parts(entries: Sequence[str]) -> tuple[str, ...]:
    """The parts ``entries`` name, each on its own: one entry may list several (``左手、右前臂``,
    as the desk's typed field, HL7 ZWI-4 and REST carry them alike); blanks dropped."""
    split = (p.strip() for entry in entries for p in _PART_SEPARATORS.split(entry))
    return tuple(p for p in split if p)


def unfiled_parts(treated: Sequence[str], filed: Sequence[str]) -> list[str]:
    """The treated parts that are not filed (several filed parts may be treated in one stay)."""
    return [part for part in listed_parts(treated) if not part_is_filed(part, filed)]


def filed_part_for(part: str, filed: Sequence[str]) -> str:
    """The filed spelling of ``part`` (what the slip and upstream see), or ``part`` itself."""
    key = normalise_part(part)
    return next((f for f in filed if normalise_part(f) == key), part.strip())


# -- the approval notice number (核付通知单文号, 附表2): one notice, however typed ------------

# The year of an official document number (文号) sits in 〔〕, which few keyboards type: the
# counter types [], (), 【】 or their full-width forms. They are one notice (B§34 核对通知单).
_NOTICE_BRACKETS = str.maketrans("〔【[〕】]", "((()))")


def notice_key(text: str) -> str:
    """An approval notice number as compared: full-width forms folded (NFKC: ``０４２１`` is
    ``0421``, ``（`` is ``(``), the year's brackets read as one kind, spaces dropped. Two numbers
    with the same key name the same notice; any other difference (a digit) still differs."""
    folded = unicodedata.normalize("NFKC", text).translate(_NOTICE_BRACKETS)
    return "".join(folded.split())


def same_notice(given: str, filed: str) -> bool:
    """Does the notice ``given`` (typed at the counter) name the ``filed`` one? Empty never does."""
    key = notice_key(given)
    return bool(key) and key == notice_key(filed)
