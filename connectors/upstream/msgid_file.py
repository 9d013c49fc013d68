"""``msgid`` values that stay unique across the processes of one SQLite installation.

On SQLite the server and every operator command (``wi-adapter queue retry`` re-sends a
refused job under a fresh msgid; ``wi-adapter reconcile`` and others make upstream reads,
each with its own msgid) are separate processes. Each with its own in-process sequence would
start at 0000 in the same second, and upstream — which deduplicates by msgid alone — would
answer the second write with the first's reply: that write silently never takes effect.

The sequence cannot live in the database: msgids are drawn inside use-case transactions that
already hold SQLite's one write lock. It lives instead in a small state file beside the
database (``<database>-msgid``, like SQLite's own ``-wal`` and ``-shm``): one line, the
second last drawn in and the sequence due next. Each draw locks the file (``fcntl.flock``,
released by the kernel if the process dies), reads it, steps exactly as
:class:`~connectors.upstream.msgids.MsgidSequence` does (:func:`advance`), writes it back
and unlocks; a thread lock makes the threads of one process take turns too.

No ``fsync``: the file only has to outlive a process, not the machine. After a reboot the
clock is past any second stored before it, and a later second starts afresh, so a lost write
can never bring back a msgid already drawn.
"""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path

from adapter.domain.ports import Clock
from adapter.domain.upstream import make_msgid
from connectors.upstream.msgids import advance

_FORMAT = "%Y%m%d%H%M%S"
SUFFIX = "-msgid"


def state_path(database: str | os.PathLike[str]) -> Path:
    """The state file of the SQLite database file ``database``."""
    return Path(f"{os.fspath(database)}{SUFFIX}")


class FileMsgidSequence:
    """A msgid source shared by every process that names the same state file."""

    def __init__(self, path: str | os.PathLike[str], institution_code: str, clock: Clock) -> None:
        make_msgid(institution_code, datetime(2000, 1, 1), 0)  # validates the code now
        self._path = Path(path)
        self._institution = institution_code
        self._clock = clock
        self._lock = threading.Lock()  # flock is per open file, not per thread
        # created now, so a directory the adapter cannot write fails at start-up, not mid-use
        os.close(os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))

    @property
    def path(self) -> Path:
        return self._path

    def next(self) -> str:
        with self._lock:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released by close, or by the kernel on death
                now = self._clock.now().replace(microsecond=0, tzinfo=None)
                stored, next_sequence = _read(fd, now)
                second, sequence = advance(stored, next_sequence, now)
                state = f"{second.strftime(_FORMAT)} {sequence + 1:05d}\n".encode()
                os.pwrite(fd, state, 0)
                os.ftruncate(fd, len(state))
            finally:
                os.close(fd)
            return make_msgid(self._institution, second, sequence)


def _read(fd: int, now: datetime) -> tuple[datetime | None, int]:
    """The stored (second, next sequence); none for a new file. A file that does not read
    (torn by a crash mid-write) counts as if the current second were used up: the next
    second starts afresh, so no id of this second drawn before the tear is handed out again."""
    raw = os.pread(fd, 64, 0)
    if not raw:
        return None, 0
    try:
        second_text, next_text = raw.decode("ascii").split()
        return datetime.strptime(second_text, _FORMAT), int(next_text)
    except ValueError:
        return now + timedelta(seconds=1), 0
