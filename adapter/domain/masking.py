"""Personal data masked before anything is logged or shown to IT (never a citizen ID in full).

:func:`mask_body` walks a JSON value and masks by key — citizen IDs, card numbers and card
identifiers, phones, names, e-card tokens — and, in every other string, anything shaped like
a citizen ID or a mobile number. :func:`mask_text` does the latter for a reply that was not
JSON at all. The result is safe to store and show; it cannot be un-masked.

:func:`mask_hl7` masks a stored HL7 v2 message field by field where the site profile puts
personal data — PID-5 and NK1-2 names, PID-13, PID-14, NK1-5 and NK1-6 phones, ZWI-2 the card
number, ZWI-3 the e-card token — and then as free text. The stored message keeps the original
for reprocessing.

These are pure functions over JSON values and text: the upstream client, the HL7 log and the
operator use cases (IT's lists, a corrected re-send) all mask the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from adapter.domain.people import mask_card_no, mask_citizen_id, mask_name, mask_phone

_CITIZEN_ID_KEYS = frozenset(
    {"certno", "cert_no", "citizen_id", "relative_citizen_id", "idcard", "psn_cert_no"}
)
_CARD_KEYS = frozenset({"card_no", "card_sn", "cardno"})
_PHONE_KEYS = frozenset(
    {"tel", "phone", "mob", "mobile", "relative_phone", "employer_phone", "coner_tel"}
)
_NAME_KEYS = frozenset({"psn_name", "relative_name", "employer_contact", "coner_name", "certname"})
_TOKEN_KEYS = frozenset({"qr_token", "ecard_token", "ecqrcode", "token"})

# The adapter's and upstream's own record ids (``new_id``: a letter and 24 hex digits) are never
# personal data, yet a run of their digits can look like a mobile number or a citizen ID; masked,
# IT could no longer find the settlement a listed upload belongs to.
_IDENTIFIER_KEYS = frozenset(
    {"setl_id", "mdtrt_id", "details_of", "context", "slip_no", "msgid", "infno",
     "encounter_id", "settlement_id"}
)  # fmt: skip

_CITIZEN_ID_IN_TEXT = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _inside_a_code(match: re.Match[str]) -> bool:
    """True when the digits are part of a longer ASCII code that has digits of its own
    elsewhere (``SA27EB7597B18412347295F10``, a hex record id): a person's number written in
    text stands alone or after a word (``TEL13812345678``), never inside such a code."""
    text, start, end = match.string, match.start(), match.end()
    left, right = start, end
    while left > 0 and text[left - 1] in _ALNUM:
        left -= 1
    while right < len(text) and text[right] in _ALNUM:
        right += 1
    return any(c.isdigit() for c in text[left:start] + text[end:right])


def mask_text(text: str) -> str:
    """Mask citizen IDs and mobile numbers found anywhere in free text."""
    text = _CITIZEN_ID_IN_TEXT.sub(
        lambda m: m.group(0) if _inside_a_code(m) else mask_citizen_id(m.group(0)), text
    )
    return _MOBILE_IN_TEXT.sub(
        lambda m: m.group(0) if _inside_a_code(m) else mask_phone(m.group(0)), text
    )


def mask_token(value: str) -> str:
    return value[:4] + "…" if len(value) > 4 else "*" * len(value)


def _mask_value(key: str, value: str, cert_type: str | None) -> str:
    lowered = key.lower()
    if lowered in _CITIZEN_ID_KEYS:
        return mask_citizen_id(value)
    if lowered in _CARD_KEYS:
        return mask_card_no(value)
    if lowered in _PHONE_KEYS:
        return mask_phone(value)
    if lowered in _NAME_KEYS:
        return mask_name(value)
    if lowered in _TOKEN_KEYS:
        return mask_token(value)
    if lowered == "mdtrt_cert_no":
        # the person query's credential: a token (01), a citizen ID (02) or a card (03)
        if cert_type == "01":
            return mask_token(value)
        if cert_type == "03":
            return mask_card_no(value)
        return mask_citizen_id(value)
    if lowered in _IDENTIFIER_KEYS:
        return value
    return mask_text(value)


def mask_body(value: Any, _key: str = "", _cert_type: str | None = None) -> Any:
    """A copy of the JSON value ``value`` with personal data masked."""
    if isinstance(value, dict):
        cert_type = value.get("mdtrt_cert_type", _cert_type)
        return {
            k: mask_body(v, str(k), cert_type if isinstance(cert_type, str) else None)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_body(item, _key, _cert_type) for item in value]
    if isinstance(value, str):
        return _mask_value(_key, value, _cert_type)
    return value


MASK_MARKS = ("*", "…")


def looks_masked(value: Any) -> bool:
    """True when any string inside ``value`` carries a mask mark (it cannot be re-sent as is)."""
    if isinstance(value, dict):
        return any(looks_masked(v) for v in value.values())
    if isinstance(value, list):
        return any(looks_masked(v) for v in value)
    return isinstance(value, str) and any(mark in value for mark in MASK_MARKS)


def restore_masked(corrected: Any, original: Any, _key: str = "", _cert_type: Any = None) -> Any:
    """``corrected`` (a payload IT edited from its masked copy) with every value still equal to
    the masked form of the ``original`` at the same place put back to the original value.

    IT sees payloads masked (:func:`mask_body`); what it leaves untouched must go upstream as
    stored, never as asterisks, and what it changed goes as changed.
    """
    if isinstance(corrected, dict) and isinstance(original, dict):
        cert_type = original.get("mdtrt_cert_type", _cert_type)
        return {
            k: restore_masked(v, original[k], str(k), cert_type) if k in original else v
            for k, v in corrected.items()
        }
    if isinstance(corrected, list) and isinstance(original, list):
        return [
            restore_masked(item, original[n], _key, _cert_type) if n < len(original) else item
            for n, item in enumerate(corrected)
        ]
    if isinstance(corrected, str) and isinstance(original, str) and corrected != original:
        cert_type = _cert_type if isinstance(_cert_type, str) else None
        if corrected == _mask_value(_key, original, cert_type):
            return original
    return corrected


_NAME, _PHONE, _CARD, _TOKEN = mask_name, mask_phone, mask_card_no, mask_token
_FIELDS: dict[str, dict[int, Callable[[str], str]]] = {
    "PID": {5: _NAME, 6: _NAME, 13: _PHONE, 14: _PHONE},
    "NK1": {2: _NAME, 5: _PHONE, 6: _PHONE},
    "ZWI": {2: _CARD, 3: _TOKEN},
}
_SEGMENT_BREAK = re.compile(r"(\r\n|\r|\n)")


def mask_hl7(text: str) -> str:
    """``text`` (one HL7 v2 message) with names, phones, card numbers and IDs masked."""
    field_sep, delimiters = "|", "^~\\&"
    if text.startswith("MSH") and len(text) > 8:
        field_sep, delimiters = text[3], text[4:8]
    separators = set(delimiters[:2] + (delimiters[3] if len(delimiters) > 3 else ""))
    parts = _SEGMENT_BREAK.split(text)
    for index in range(0, len(parts), 2):
        fields = parts[index].split(field_sep)
        rules = _FIELDS.get(fields[0][:3].upper())
        if not rules:
            continue
        for position, mask in rules.items():
            if position < len(fields) and fields[position]:
                fields[position] = _mask_pieces(fields[position], separators, mask)
        parts[index] = field_sep.join(fields)
    return mask_text("".join(parts))


def _mask_pieces(value: str, separators: set[str], mask: Callable[[str], str]) -> str:
    """Mask each component/repetition of a field on its own, keeping the delimiters."""
    pieces = re.split(f"([{re.escape(''.join(sorted(separators)))}])", value)
    return "".join(p if p in separators or not p else mask(p) for p in pieces)
