"""The group commit's hand-over between threads: who runs what, in which transaction, and that
no thread is left waiting when a group fails or its leader is interrupted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

from connectors.hl7.group_commit import GroupCommit


class Transactions:
    """Counts the works run inside each transaction (a group's size)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._open: list[int] | None = None

    @contextmanager
    def begin(self) -> Iterator[None]:
        self._open = [0]
        try:
            yield
        finally:
            self.sizes.append(self._open[0])
            self._open = None

    def count(self) -> None:
        assert self._open is not None, "a work ran outside its group's transaction"
        self._open[0] += 1


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the other threads never arrived"
        time.sleep(0.002)


def _together(
    group: GroupCommit[str], first: Callable[[], str | None], others: list[Callable[[], str | None]]
) -> tuple[Future[str | None], list[Future[str | None]]]:
    """``first`` runs alone (it leads); ``others`` start once it is running."""
    started = threading.Event()

    def leading() -> str | None:
        started.set()
        return first()

    pool = ThreadPoolExecutor(len(others) + 1)
    lead = pool.submit(group.run, leading)
    assert started.wait(10)
    rest = [pool.submit(group.run, work) for work in others]
    pool.shutdown(wait=False)
    return lead, rest


def test_works_that_wait_meanwhile_run_in_one_transaction_each_getting_its_answer() -> None:
    transactions = Transactions()
    group: GroupCommit[str] = GroupCommit(transactions.begin, turn=nullcontext())

    def first() -> str:
        transactions.count()
        _wait_for(lambda: group.pending == 3)
        return "A"

    def answer(text: str) -> Callable[[], str]:
        def work() -> str:
            transactions.count()
            return text

        return work

    lead, rest = _together(group, first, [answer("B"), answer("C"), answer("D")])
    assert lead.result(10) == "A"
    assert sorted(str(f.result(10)) for f in rest) == ["B", "C", "D"]
    assert transactions.sizes == [1, 3]


def test_a_group_holds_at_most_max_group() -> None:
    transactions = Transactions()
    group: GroupCommit[str] = GroupCommit(transactions.begin, turn=nullcontext(), max_group=2)

    def first() -> str:
        transactions.count()
        _wait_for(lambda: group.pending == 4)
        return "A"

    def work() -> str:
        transactions.count()
        return "x"

    lead, rest = _together(group, first, [work] * 4)
    assert [lead.result(10), *(f.result(10) for f in rest)] == ["A", "x", "x", "x", "x"]
    assert transactions.sizes == [1, 2, 2]


def test_when_a_group_fails_every_work_of_it_is_told_to_run_alone() -> None:
    transactions = Transactions()
    group: GroupCommit[str] = GroupCommit(transactions.begin, turn=nullcontext())
    failing = threading.Event()

    def first() -> str:
        _wait_for(lambda: group.pending == 2)
        return "A"

    def fails() -> str:
        failing.set()
        raise RuntimeError("disk I/O error")

    lead, rest = _together(group, first, [lambda: "B", fails])
    assert lead.result(10) == "A"
    assert [f.result(10) for f in rest] == [None, None]  # neither committed: both alone
    assert failing.is_set()


def test_an_interrupted_leader_leaves_no_thread_waiting() -> None:
    group: GroupCommit[str] = GroupCommit(nullcontext, turn=nullcontext())

    def first() -> str:
        _wait_for(lambda: group.pending == 2)
        return "A"

    def interrupted() -> str:
        raise KeyboardInterrupt  # not an Exception: it ends the thread that leads the group

    lead, rest = _together(group, first, [interrupted, lambda: "B"])
    assert lead.result(10) == "A"
    outcomes = []
    for future in rest:  # each done within the time-out: none left waiting
        try:
            outcomes.append(future.result(10))
        except KeyboardInterrupt:
            outcomes.append("interrupted")
    # whichever of the two led was interrupted; the other was told to run alone
    assert sorted(map(str, outcomes)) == ["None", "interrupted"]
    assert group.run(lambda: "C") == "C"  # and the next one leads as usual
