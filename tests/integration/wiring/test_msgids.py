"""msgids stay unique when two instances share one PostgreSQL (upstream dedupes by msgid)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.msgids import SharedMsgidSequence
from adapter.wiring.runtime import msgid_source
from connectors.upstream.msgids import MsgidSequence
from tests.conftest import create_pg_database, drop_pg_database


class FrozenClock:
    def now(self) -> datetime:
        return datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_two_instances_on_one_postgresql_never_draw_the_same_msgid() -> None:
    url = create_pg_database()
    engines = [make_engine(url), make_engine(url)]
    sources: list[SharedMsgidSequence] = []
    try:
        upgrade(engines[0])
        first, second = (msgid_source(e, "H11010000001", FrozenClock()) for e in engines)
        assert isinstance(first, SharedMsgidSequence) and isinstance(second, SharedMsgidSequence)
        sources += [first, second]
        drawn = [source.next() for _ in range(60) for source in (first, second)]
        assert len(set(drawn)) == len(drawn) == 120
        assert all(m.startswith("H1101000000120261124093000") and len(m) == 30 for m in drawn)
    finally:
        for source in sources:
            source.close()
        for engine in engines:
            engine.dispose()
        drop_pg_database(url)


def test_sqlite_in_memory_runs_one_process_with_the_in_process_sequence() -> None:
    # a database file is shared by processes: tests/integration/wiring/test_msgid_file.py
    engine = make_engine("sqlite://")
    source = msgid_source(engine, "H11010000001", FrozenClock())
    assert isinstance(source, MsgidSequence)
    assert len({source.next() for _ in range(100)}) == 100
