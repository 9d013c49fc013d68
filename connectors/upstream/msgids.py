"""A thread-safe source of ``msgid`` values for one institution.

Upstream deduplicates by ``msgid`` alone, so two messages must never share one. Give the
client and the upload queue the *same* :class:`MsgidSequence` (the composition root makes
one per process): it never hands out a value twice, even within one second — after 10,000
ids in a second it moves on to the next second's ids rather than repeat.

:class:`MsgidSequence` is unique within one process only. Where several processes draw for
one institution (the server and an operator's ``wi-adapter`` command on one SQLite file),
the composition root gives each a sequence shared across processes instead
(:mod:`connectors.upstream.msgid_file` on SQLite, :mod:`adapter.store.msgids` on
PostgreSQL); :func:`advance` is the one rule they all step by.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from adapter.domain.ports import Clock
from adapter.domain.upstream import make_msgid

LAST_SEQUENCE = 9999  # four digits


def advance(second: datetime | None, next_sequence: int, now: datetime) -> tuple[datetime, int]:
    """The (second, sequence) to draw now, given the stored second and the sequence due next.

    A later second starts again at 0000; the same second — or an earlier one, when the clock
    went back — keeps counting in the stored second, so nothing drawn before is repeated;
    past 9999 the ids move on to the next second. ``now`` is naive local time, whole seconds.
    """
    if second is None or now > second:
        return now, 0
    if next_sequence > LAST_SEQUENCE:
        return second + timedelta(seconds=1), 0
    return second, next_sequence


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
            self._second, sequence = advance(self._second, self._next, now)
            self._next = sequence + 1
            return make_msgid(self._institution, self._second, sequence)
