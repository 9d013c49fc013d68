"""The audit chain: appends verify; an edit, a deletion or a reordering is found."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import pairwise

from sqlalchemy import Engine, delete, update

from adapter.store.audit import GENESIS, verify
from adapter.store.sql import table
from adapter.store.tables import AuditEntryRow, AuditHeadRow
from adapter.store.uow import UnitOfWork
from tests.integration.store.conftest import FakeClock

log = table(AuditEntryRow)
head = table(AuditHeadRow)


def _append(store: Engine, clock: FakeClock, count: int) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        for n in range(1, count + 1):
            clock.advance(minutes=1)
            uow.audit.append(
                actor=f"clerk0{n % 2}",
                role="billing",
                action="settle" if n % 2 else "revoke",
                subject_type="settlement",
                subject_id=f"S{n}",
                details={"slip_no": f"SLIP{n}", "total": "123.45", "psn": "110101********1234"},
            )
        uow.commit()


def _tamper(store: Engine, statement: object) -> None:
    with store.begin() as connection:
        connection.execute(statement)  # type: ignore[call-overload]


def test_appended_entries_chain_and_verify(store: Engine, clock: FakeClock) -> None:
    assert verify(store).ok and verify(store).checked == 0
    _append(store, clock, 5)
    result = verify(store)
    assert (result.ok, result.checked, result.broken_seq) == (True, 5, None)
    with UnitOfWork(store) as uow:
        entries = uow.audit.query()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))
    assert entries[0].details == {
        "slip_no": "SLIP1",
        "total": "123.45",
        "psn": "110101********1234",
    }


def test_an_edited_entry_is_found(store: Engine, clock: FakeClock) -> None:
    _append(store, clock, 5)
    _tamper(store, update(log).where(log.c.seq == 3).values(details='{"slip_no":"FORGED"}'))
    result = verify(store)
    assert (result.ok, result.broken_seq, result.checked) == (False, 3, 2)
    assert "altered" in result.problem


def test_an_edited_actor_is_found_even_with_its_hash_recomputed_naively(
    store: Engine, clock: FakeClock
) -> None:
    _append(store, clock, 4)
    _tamper(store, update(log).where(log.c.seq == 2).values(actor="someone-else"))
    assert verify(store).broken_seq == 2


def test_a_deleted_entry_is_found(store: Engine, clock: FakeClock) -> None:
    _append(store, clock, 5)
    _tamper(store, delete(log).where(log.c.seq == 3))
    result = verify(store)
    assert (result.ok, result.broken_seq) == (False, 3)
    assert "missing" in result.problem


def test_deleting_the_newest_entries_is_found(store: Engine, clock: FakeClock) -> None:
    _append(store, clock, 5)
    _tamper(store, delete(log).where(log.c.seq >= 4))
    result = verify(store)
    assert (result.ok, result.checked, result.broken_seq) == (False, 3, 4)


def test_reordered_entries_are_found(store: Engine, clock: FakeClock) -> None:
    _append(store, clock, 5)
    # Swap entries 2 and 3 by renumbering them (via a free number: seq is the primary key).
    _tamper(store, update(log).where(log.c.seq == 2).values(seq=1000))
    _tamper(store, update(log).where(log.c.seq == 3).values(seq=2))
    _tamper(store, update(log).where(log.c.seq == 1000).values(seq=3))
    result = verify(store)
    assert (result.ok, result.broken_seq) == (False, 2)


def test_concurrent_appends_do_not_fork_the_chain(store: Engine, clock: FakeClock) -> None:
    workers, each = 5, 8
    start = threading.Barrier(workers)

    def append(n: int) -> None:
        start.wait(timeout=30)
        for k in range(each):
            with UnitOfWork(store, clock=clock) as uow:
                uow.audit.append(actor=f"clerk{n}", action="admit", subject_id=f"{n}-{k}")
                uow.commit()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(append, range(workers)))
    result = verify(store)
    assert (result.ok, result.checked) == (True, workers * each)


def test_query_filters_by_actor_action_subject_and_time(store: Engine, clock: FakeClock) -> None:
    start = clock.now()
    _append(store, clock, 6)
    with UnitOfWork(store) as uow:
        assert [e.seq for e in uow.audit.query(actor="clerk01")] == [1, 3, 5]
        assert [e.seq for e in uow.audit.query(action="revoke")] == [2, 4, 6]
        assert [e.seq for e in uow.audit.query(subject_type="settlement", subject_id="S4")] == [4]
        window = uow.audit.query(
            since=start + timedelta(minutes=2), until=start + timedelta(minutes=4)
        )
        assert [e.seq for e in window] == [2, 3]
        assert [e.seq for e in uow.audit.query(limit=2)] == [1, 2]
