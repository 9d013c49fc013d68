"""Two clerks at once: one settlement per encounter, distinct slip numbers, rollbacks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import DomainError
from adapter.store import errors
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock


def _settled_encounter(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter(status=EncounterStatus.SETTLED))
        uow.commit()


def test_two_clerks_settling_one_encounter_get_one_settlement(
    store: Engine, clock: FakeClock
) -> None:
    _settled_encounter(store, clock)
    start = threading.Barrier(2)

    def settle(n: int) -> str:
        settlement = f.settlement(f"S{n}", slip_no=f"SLIP{n}")
        start.wait(timeout=30)
        try:
            with UnitOfWork(store, immediate=True, clock=clock) as uow:
                uow.settlements.add(settlement, zone=f.SHANGHAI)
                uow.commit()
        except DomainError as exc:
            return exc.code
        return "settled"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(settle, (1, 2)))
    assert outcomes == sorted(["settled", errors.SETTLEMENT_DUPLICATE])
    with UnitOfWork(store) as uow:
        assert len(uow.settlements.list_for_encounter("E1")) == 1


def test_concurrent_slip_numbers_never_repeat(store: Engine) -> None:
    workers, draws = 6, 15
    start = threading.Barrier(workers)

    def draw(_: int) -> list[str]:
        start.wait(timeout=30)
        numbers = []
        for _ in range(draws):
            with UnitOfWork(store) as uow:
                numbers.append(uow.slips.next_slip_no(f.INSTITUTION, date(2026, 1, 3)))
                uow.commit()
        return numbers

    with ThreadPoolExecutor(workers) as pool:
        drawn = [n for batch in pool.map(draw, range(workers)) for n in batch]
    assert len(drawn) == len(set(drawn)) == workers * draws
    expected = {f"{f.INSTITUTION}20260103{n:05d}" for n in range(1, workers * draws + 1)}
    assert set(drawn) == expected


def test_slip_sequence_restarts_each_day_and_per_institution(store: Engine) -> None:
    with UnitOfWork(store) as uow:
        assert [uow.slips.next("A", date(2026, 1, 3)) for _ in range(3)] == [1, 2, 3]
        assert uow.slips.next("A", date(2026, 1, 4)) == 1
        assert uow.slips.next("B", date(2026, 1, 3)) == 1
        uow.commit()


def test_a_rolled_back_slip_number_is_drawn_again(store: Engine) -> None:
    with UnitOfWork(store) as uow:
        assert uow.slips.next("A", date(2026, 1, 3)) == 1
    with UnitOfWork(store) as uow:
        assert uow.slips.next("A", date(2026, 1, 3)) == 1


def test_nothing_is_written_without_commit(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
    with UnitOfWork(store) as uow:
        assert uow.encounters.find("E1") is None


def test_an_exception_rolls_everything_back(store: Engine, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError, match="boom"), UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.audit.append(actor="clerk01", action="admit")
        raise RuntimeError("boom")
    with UnitOfWork(store) as uow:
        assert uow.encounters.find("E1") is None
        assert uow.audit.query() == []


def test_concurrent_version_checked_updates_let_one_win(store: Engine, clock: FakeClock) -> None:
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.commit()
    start = threading.Barrier(2)

    def discharge(n: int) -> str:
        # Each clerk's screen shows version 1 (read in one request), then both save at once.
        with UnitOfWork(store) as uow:
            record = uow.encounters.get("E1")
        start.wait(timeout=30)
        changed = record.encounter.moved_to(
            EncounterStatus.CANCELLED if n else EncounterStatus.MANUAL_CLAIM
        )
        try:
            with UnitOfWork(store, immediate=True, clock=clock) as uow:
                uow.encounters.update(changed, expected_version=record.version)
                uow.commit()
        except DomainError as exc:
            return exc.code
        return "updated"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(discharge, (0, 1)))
    assert outcomes == sorted(["updated", errors.VERSION_CONFLICT])
    with UnitOfWork(store) as uow:
        assert uow.encounters.get("E1").version == 2


def test_a_unit_of_work_is_used_once(store: Engine) -> None:
    uow = UnitOfWork(store)
    with uow:
        uow.commit()
        with pytest.raises(RuntimeError):
            uow.commit()
    with pytest.raises(RuntimeError), uow:
        pass
