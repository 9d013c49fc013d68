"""Reading what clerks type: cards (as a scanner types them), local times, diagnoses, money,
and turning the adapter's errors into what a page shows (every reason with its article)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from adapter.domain.commands import Diagnosis
from adapter.domain.errors import AdapterError, EligibilityRefused, UpstreamError
from adapter.domain.money import is_fen
from adapter.domain.people import CardData, CardKind
from adapter.domain.rules import FILING_CHANNELS_TEXT, Finding
from adapter.domain.text import MAX_DIAGNOSES

_CITIZEN_ID = re.compile(r"^\d{17}[\dXx]$")
_CARD_NO = re.compile(r"^[0-9A-Za-z]{4,32}$")

# Refusals the worker fixes by filing (or changing the filing) at the insured place.
FILING_CODES = frozenset(
    {
        "EL_FILING_EXISTS",
        "EL_FILING_CATEGORY",
        "EL_FILED_BEFORE_ADMISSION",
        "EL_TREATMENT_PLACE",
        "EL_VALID_ON_ADMISSION",
        "EL_ADMITTED_INSIDE_VALIDITY",
        "EL_NOT_TERMINATED",
        "EL_NOT_CANCELLED",
        "EL_NOT_CHANGED",
        "EL_INJURY_PARTS_FILED",
    }
)


class FormError(Exception):
    """A value a clerk typed cannot be used; the message says which and why (Chinese)."""


def read_card(text: str, kind: str = "auto") -> CardData:
    """What the card field received: a social-security card number, a citizen ID, or an
    electronic card's QR content (a scanner types it and presses Enter)."""
    value = text.strip()
    if not value:
        raise FormError("请刷卡、扫码或输入社会保障卡号")
    # A number typed by hand: full-width with the input method on, spaced as printed on the
    # card, in lower case; the card and the ID carry upper-case letters only. A QR's content
    # is passed on exactly as scanned.
    number = "".join(typed(value).split()).upper()
    if kind == "ecard" or (kind == "auto" and not _CARD_NO.match(number)):
        return CardData(kind=CardKind.ECARD, qr_token=value)
    if _CITIZEN_ID.match(number):
        return CardData(kind=CardKind.PHYSICAL, citizen_id=number)
    return CardData(kind=CardKind.PHYSICAL, card_no=number)


def typed(text: str) -> str:
    """What a clerk typed, as stored values are written: full-width letters, digits and
    spaces (a Chinese input method left on) as their ASCII forms, outer spaces dropped."""
    return unicodedata.normalize("NFKC", text).strip()


def card_text(card: CardData) -> str:
    return card.qr_token or card.card_no or card.citizen_id


def local_time(text: str, zone: ZoneInfo, default: datetime | None = None) -> datetime:
    """A ``datetime-local`` value (``2026-11-24T09:30``) in the institution's zone."""
    value = text.strip()
    if not value:
        if default is None:
            raise FormError("请填写时间")
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FormError(f"时间格式不正确：{value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


# a diagnosis's bounds over REST (DiagnosisIn) and HL7 (connectors.hl7.lengths)
DIAGNOSIS_CODE_MAX, DIAGNOSIS_NAME_MAX = 32, 200


def diagnoses(text: str) -> tuple[Diagnosis, ...]:
    """One diagnosis per line: ``S62.301 左手第三掌骨骨折`` (ICD-10 code, then the name), at
    most :data:`MAX_DIAGNOSES`, each within the bounds REST and HL7 keep."""
    found: list[Diagnosis] = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.strip().split(maxsplit=1)
        if not parts:
            continue
        code, name = parts[0], parts[1] if len(parts) > 1 else ""
        if len(found) == MAX_DIAGNOSES:
            raise FormError(f"诊断最多{MAX_DIAGNOSES}条，请删去多余的行")
        if len(code) > DIAGNOSIS_CODE_MAX:
            raise FormError(f"第{number}行诊断编码最长{DIAGNOSIS_CODE_MAX}个字符，请核对")
        if len(name) > DIAGNOSIS_NAME_MAX:
            raise FormError(f"第{number}行诊断名称最长{DIAGNOSIS_NAME_MAX}个字符，请核对")
        found.append(Diagnosis(code, name))
    return tuple(found)


# as the API's money (14 digits, two after the point): "1e309" parses, but rounding it to the
# fen overflows the decimal context, and no column holds it
MAX_AMOUNT = Decimal("1000000000000")


def amount(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise FormError(f"{what}须为金额（元，精确到分）") from exc
    if not value.is_finite():  # "NaN" and "Infinity" parse, and compare with an exception
        raise FormError(f"{what}须为金额（元，精确到分）")
    if abs(value) >= MAX_AMOUNT:
        raise FormError(f"{what}过大：须小于 1,000,000,000,000.00 元，请核对")
    if value <= 0 or not is_fen(value):
        raise FormError(f"{what}须为大于0且精确到分的金额")
    return value


@dataclass(frozen=True)
class Shown:
    """A finding as a page shows it (filing channels pulled out to be shown once)."""

    code: str
    article: str
    message: str


def refusal(reasons: Iterable[Finding]) -> dict[str, Any]:
    items = list(reasons)
    channels = any(r.code in FILING_CODES or FILING_CHANNELS_TEXT in r.message for r in items)
    shown = [
        Shown(r.code, r.article, r.message.replace(FILING_CHANNELS_TEXT, "").strip()) for r in items
    ]
    return {"reasons": shown, "channels": FILING_CHANNELS_TEXT if channels else ""}


def problem(exc: AdapterError) -> dict[str, Any]:
    """The template context for an error: ``refusal`` for refusals, ``error`` otherwise."""
    if isinstance(exc, EligibilityRefused):
        return {"refusal": refusal(exc.reasons)}
    # The article once: many messages already cite it in their text, in Chinese ("N§38、B§27").
    cited = not exc.article or exc.article.replace(", ", "、") in exc.message.replace(", ", "、")
    text = exc.message + ("" if cited else f"（{exc.article}）")
    if isinstance(exc, UpstreamError) and exc.upstream_message:
        text += f"　上级系统：{exc.upstream_message}"
    return {"error": text}


def checked(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v.strip())


@dataclass(frozen=True)
class Confirm:
    """The confirm step of an irreversible action (``_confirm.html``): the page shows what
    happens upstream and posts the typed fields again with ``confirmed=1``."""

    title: str
    upstream: str
    article: str
    action: str
    button: str
    back: str
    fields: dict[str, str]
