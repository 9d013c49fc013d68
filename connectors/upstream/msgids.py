"""A thread-safe source of ``msgid`` values for one institution.

Upstream deduplicates by ``msgid`` alone, so two messages must never share one. Give the
client and the upload queue the *same* :class:`MsgidSequence` (the composition root makes
one per process): it never hands out a value twice, even within one second — after 10,000
ids in a second it moves on to the next second's ids rather than repeat.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from adapter.domain.ports import Clock
from adapter.domain.upstream import make_msgid


class MsgidSequence:
    def __init__(self, institution_code: str, clock: Clock) -> None:
        make_msgid(institution_code, datetime(2000, 1, 1), 0)  # validates the code now
        self._institution = institution_code
        self._clock = clock
        self._lock = threading.Lock()
        self._second: datetime | None = None
        self._next = 0

    def next(self) -> str:
        with self._lock:
            now = self._clock.now().replace(microsecond=0, tzinfo=None)
            if self._second is None or now > self._second:
                self._second, self._next = now, 0
            if self._next > 9999:
                self._second += timedelta(seconds=1)
                self._next = 0
            sequence = self._next
            self._next += 1
            return make_msgid(self._institution, self._second, sequence)
