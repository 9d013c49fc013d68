"""The scheme's months (``YYYY-MM``) and the settlement times each one counts (N§35): what
monthly reconciliation, the device funds and the schedules share.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

# Years 2000–2099: the scheme's months, and every month has a next one a date can hold.
MONTH_PATTERN = r"^(20\d\d)-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def parse_month(text: str) -> str:
    """``text`` if it is a month ``YYYY-MM``; ``ValueError`` (Chinese) otherwise."""
    if not _MONTH.match(text or ""):
        raise ValueError(f"月份须为 YYYY-MM 格式（例如 2026-10），收到“{text}”")
    return text


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def first_day(month: str) -> date:
    year, number = parse_month(month).split("-")
    return date(int(year), int(number), 1)


def previous_month(day: date) -> str:
    """The month before ``day``'s: what the agency reconciles early in a month (N§35)."""
    first = day.replace(day=1)
    return month_of(
        date(first.year - 1, 12, 1) if first.month == 1 else first.replace(month=first.month - 1)
    )


def next_month(month: str) -> str:
    first = first_day(month)
    return month_of(
        date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    )


def settlement_period(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The settlement times that count in ``month``: from local midnight of its first day
    (inclusive) to that of the next month (exclusive), where the institution is (N§35)."""
    start = datetime.combine(first_day(month), time.min, tzinfo=zone)
    return start, datetime.combine(first_day(next_month(month)), time.min, tzinfo=zone)


def day_began(moment: datetime, zone: tzinfo) -> datetime:
    """Midnight of ``moment``'s day where the site is (``zone``): "today" for IT's counts."""
    return datetime.combine(moment.astimezone(zone).date(), time.min, tzinfo=zone)
