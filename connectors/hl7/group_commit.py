"""Several senders' messages in one synced commit: group commit for SQLite's one writer.

Each HL7 message that only writes (ADT^A08) costs SQLite three transactions of its own: its
receipt, the visit update with its audit entry, its outcome and ACK. On SQLite they take turns
anyway (one writer), and a part of their cost is beginning, committing and syncing. So when
several senders' messages arrive together, one of the waiting threads (the *leader*) runs them
all, one after another, in one transaction (:func:`adapter.store.db.one_transaction`, injected
as ``transaction``; each message's use case in a savepoint of it), and commits once. Every
message of the group is on the disk before any of their ACKs is sent; a power cut before the
commit loses only messages nobody acknowledged, and the HIS resends them.

A message's ``work`` returns its answer, or ``None`` when it cannot be taken in a group (its
control id is already held: a repeat, answered from the first message's ACK, or waiting for
it): it then runs on its own thread, alone, after the group. If anything in the group raises,
or its commit fails (a full disk), the whole group rolls back and every message of it runs
alone, on the path that answers each of those cases; nothing of the group was committed, so
nothing is done twice.

A leader leads until its own message is committed; the next waiting thread takes over. A group
holds at most ``max_group`` messages, so one commit never waits on an unbounded list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

logger = logging.getLogger("connectors.hl7")

T = TypeVar("T")

__all__ = ["GroupCommit"]


class _Pending(Generic[T]):
    __slots__ = ("answer", "done", "woken", "work")

    def __init__(self, work: Callable[[], T | None]) -> None:
        self.work = work
        self.done = False
        self.answer: T | None = None  # None when done: run alone
        # Set once: the work is done (its group committed or failed), or the thread is to
        # lead the next group. Each thread waits on its own, so a commit wakes only the
        # threads it answered and the one that leads next, not every waiting thread.
        self.woken = threading.Event()


class GroupCommit(Generic[T]):
    """Run ``work`` callables of several threads in one transaction per group (thread-safe)."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Any]],
        *,
        turn: AbstractContextManager[Any],
        max_group: int = 32,
    ) -> None:
        self._transaction = transaction
        self._turn = turn  # the pipeline's writer turn, held for the group's transaction
        self._max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Pending[T]] = []
        self._leading = False  # a thread leads, or leadership is being handed to one

    @property
    def pending(self) -> int:
        """Messages waiting for the next group (not the one being committed)."""
        with self._lock:
            return len(self._waiting)

    def run(self, work: Callable[[], T | None]) -> T | None:
        """``work``'s answer once committed with its group, or ``None``: run it alone."""
        mine = _Pending(work)
        with self._lock:
            self._waiting.append(mine)
            follow = self._leading
            self._leading = True
        if follow:
            mine.woken.wait()
            if mine.done:
                return mine.answer
            # not done: the last leader handed this thread the lead
        try:
            while not mine.done:
                with self._lock:
                    group = self._waiting[: self._max_group]
                    del self._waiting[: len(group)]
                try:
                    self._commit(group)
                finally:  # even if the leader's thread is interrupted: the others run alone
                    for pending in group:
                        pending.done = True
                        if pending is not mine:
                            pending.woken.set()
        finally:
            with self._lock:
                if not mine.done:  # interrupted before its own group: nobody runs it now
                    self._waiting.remove(mine)
                if self._waiting:
                    self._waiting[0].woken.set()  # it leads next; the lead is never idle
                else:
                    self._leading = False
        return mine.answer

    def _commit(self, group: list[_Pending[T]]) -> None:
        answers: list[T | None] = []
        try:
            with self._turn, self._transaction():
                for pending in group:
                    answers.append(pending.work())
        except Exception:
            # Nothing of the group was committed: each message runs alone, on the path that
            # answers what went wrong (a full disk, a database error, a fault).
            logger.warning("hl7.group_commit_failed", exc_info=True, extra={"size": len(group)})
            answers = [None] * len(group)
        for pending, answer in zip(group, answers, strict=True):
            pending.answer = answer
