"""The wall clock, in the institution's time zone (msgid and ``inf_time`` are local time)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


class SystemClock:
    """Satisfies :class:`adapter.domain.ports.Clock`."""

    def __init__(self, time_zone: str = "Asia/Shanghai") -> None:
        self._zone = ZoneInfo(time_zone)

    def now(self) -> datetime:
        return datetime.now(self._zone)


class FixedClock:
    """A clock that says what it is told (tests, the demo's simulator "today")."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at
