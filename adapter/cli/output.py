"""How commands print: columns by display width, times in the site's zone, ``--json``.

A Chinese character takes two columns on a terminal, so padding by ``len()`` misaligns every
column after a Chinese name; :func:`pad` pads by display width instead. Times print in the
site's zone (``2026-03-01 08:30:00``) and, in JSON, as ISO 8601 with the site's offset.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (East Asian wide and full-width count two)."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def pad(text: str, size: int, align: str = "<") -> str:
    """``text`` cut or padded to ``size`` columns."""
    text = str(text)
    if width(text) > size:
        cut = ""
        for c in text:
            if width(cut + c) > size - 1:
                break
            cut += c
        text = cut + "…"
    fill = " " * max(size - width(text), 0)
    return fill + text if align == ">" else text + fill


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def plain(value: Any, zone: ZoneInfo) -> Any:
    """``value`` as JSON-ready data: times in the site's zone with offset, money as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value), zone)
    if isinstance(value, dict):
        return {str(k): plain(v, zone) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, zone) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def dump(value: Any, zone: ZoneInfo) -> None:
    print(json.dumps(plain(value, zone), ensure_ascii=False, indent=2))
