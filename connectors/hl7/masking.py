"""Personal data masked in stored HL7 text before IT's list shows it.

Field by field where the site profile puts personal data — PID-5 and NK1-2 names, PID-13,
PID-14, NK1-5 and NK1-6 phones, ZWI-2 the card number, ZWI-3 the e-card token — and, in the
whole text, anything shaped like a citizen ID or a mobile number
(:func:`connectors.upstream.masking.mask_text`). The result cannot be un-masked; the stored
message keeps the original for reprocessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adapter.domain.people import mask_card_no, mask_name, mask_phone
from connectors.upstream.masking import mask_text, mask_token

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
