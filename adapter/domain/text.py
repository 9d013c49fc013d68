"""What text a client may send: no control characters, and lists of a bounded length.

**Control characters.** C0 (U+0000–U+001F) and DEL (U+007F) have no place in what a clerk
or the HIS writes: a NUL cannot even be stored by PostgreSQL, and the others break slips,
upload payloads and log lines. Every face refuses them, naming the field — REST (422) and
HL7 (AR) alike. Free text (a rehab plan's goals, a diagnosis's text, notes, reasons) may keep
its layout: TAB, LF and CR are allowed there, and only there; identifiers and codes never
carry any control character.

**Bounds.** Every list a request carries has a bound, so one message cannot make the adapter
read, check and store without end. The same bounds hold over REST and HL7 (DG1 segments,
ZWI-4 repetitions, FT1 segments).
"""

from __future__ import annotations

import re

LAYOUT = "\t\n\r"  # allowed in free text only

_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Bounds of the lists in a request (REST) or message (HL7).
MAX_DIAGNOSES = 30  # admission or discharge diagnoses (DG1 segments)
MAX_INJURY_PARTS = 20  # injured body parts (ZWI-4 repetitions)
MAX_FEE_LINES = 5000  # fee lines in one batch (FT1 segments of one DFT^P03)
MAX_REHAB_ITEMS = 200  # treatment items of one rehab plan
MAX_DEVICE_CODES = 50  # device codes asked about in one eligibility check


def control_character(text: str, *, free_text: bool = False) -> str | None:
    """The first control character ``text`` may not carry, or ``None``.

    ``free_text``: TAB, LF and CR are allowed (layout of a plan, a note, a reason).
    """
    match = (_CONTROL_BUT_LAYOUT if free_text else _ANY_CONTROL).search(text)
    return match.group() if match else None


def describe(char: str) -> str:
    """``U+0000`` — how a message names the character (it cannot show it)."""
    return f"U+{ord(char):04X}"


def control_message(field: str, char: str, *, free_text: bool = False) -> str:
    """The Chinese message naming the field and the character refused."""
    allowed = "（自由文本仅允许制表符、换行、回车）" if free_text else ""
    return f"{field}含有控制字符{describe(char)}，不能保存{allowed}，请删除后重发"
