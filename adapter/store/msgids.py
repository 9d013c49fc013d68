"""``msgid`` values that stay unique when several instances share one PostgreSQL.

A msgid is institution code + ``yyyyMMddHHmmss`` + a 4-digit sequence, and upstream
deduplicates by it alone. Inside one process the upstream client's own sequence never
repeats; two instances each starting at 0000 in the same second would. On PostgreSQL
the sequence digits come from one database sequence (cycling 0–9999) shared by every
instance, so two msgids collide only if 10,000 are drawn within one second.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from adapter.domain.ports import Clock
from adapter.domain.upstream import make_msgid

SEQUENCE = "upstream_msgid_seq"


class SharedMsgidSequence:
    def __init__(self, engine: Engine, institution_code: str, clock: Clock) -> None:
        make_msgid(institution_code, clock.now(), 0)  # validates the code now
        self._engine = engine
        self._institution = institution_code
        self._clock = clock

    def close(self) -> None:
        self._engine.dispose()

    def next(self) -> str:
        with self._engine.connect() as connection:
            sequence = int(connection.execute(text(f"SELECT nextval('{SEQUENCE}')")).scalar_one())
        return make_msgid(self._institution, self._clock.now().replace(tzinfo=None), sequence)


def shared_sequence(
    engine: Engine, institution_code: str, clock: Clock
) -> SharedMsgidSequence | None:
    """The shared sequence on PostgreSQL, else None (SQLite: one process, its own sequence).

    It draws on a small pool of its own: a use case draws a msgid while its transaction holds
    a connection of the main pool, and a second checkout from that same pool could wait
    forever once every connection is held that way."""
    if engine.dialect.name != "postgresql":
        return None
    own = create_engine(
        engine.url, pool_size=1, max_overflow=4, pool_timeout=10, pool_pre_ping=True
    )
    return SharedMsgidSequence(own, institution_code, clock)
