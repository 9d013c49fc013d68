"""One synced commit per A08 or DFT^P03 on SQLite, and it is the one that stores the ACK.

The real use cases and the MLLP listener on a real socket, over a real SQLite file whose
engine syncs every commit (``synchronous=FULL``, as shipped). A hook on the engine notes, at
each commit that wrote something, the connection's ``PRAGMA synchronous`` and the tables
written: the message's receipt and its effect commit at ``NORMAL``, the commit storing its
outcome and ACK at ``FULL`` (and in WAL mode that sync puts the earlier ones on the disk).
A write on another thread while a message is in its deferred steps still commits ``FULL``;
with ``sqlite_synchronous = "normal"`` nothing changes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from adapter.domain.commands import EncounterCommands, Outcome, UpdateVisit
from adapter.services.container import Services
from adapter.store.db import deferred_sync
from connectors.hl7 import (
    ListenerConfig,
    ListenerThread,
    MllpListener,
    build_inbound,
    create_tables,
)
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.synced_sqlite import *  # noqa: F403 - the synced engine, the use cases
from tests.integration.hl7.synced_sqlite import FULL, NORMAL, admit
from tests.integration.hl7.with_services import HL7_PROFILE, NOW, ts
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m

_WRITE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Commit:
    thread: str
    level: int
    tables: frozenset[str]


class Commits:
    """Every commit that wrote something: its thread, ``PRAGMA synchronous`` and tables; and
    every ``PRAGMA synchronous=`` the engine issued."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[Commit] = []
        self.pragmas: list[str] = []
        self._written: dict[int, set[str]] = {}
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.upper().startswith("PRAGMA SYNCHRONOUS="):
            with self._lock:
                self.pragmas.append(statement)
        found = _WRITE.match(statement)
        if found:
            self._written.setdefault(id(conn), set()).add(found.group(1).lower())

    def _commit(self, conn: Any) -> None:
        tables = self._written.pop(id(conn), set())
        if not tables:
            return
        level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
        with self._lock:
            self.seen.append(Commit(threading.current_thread().name, level, frozenset(tables)))

    def take(self) -> list[Commit]:
        with self._lock:
            taken, self.seen = self.seen, []
            self.pragmas = []
        return taken


@pytest.fixture
def commits(db: Engine) -> Commits:
    return Commits(db)


def _listen(db: Engine, commands: EncounterCommands) -> ListenerThread:
    create_tables(db)
    inbound = build_inbound(db, commands, HL7_PROFILE, defer_sync=deferred_sync)
    return ListenerThread(MllpListener(inbound, ListenerConfig(host="127.0.0.1", port=0)))


@pytest.fixture
def port(db: Engine, services: Services) -> Iterator[int]:
    thread = _listen(db, services.commands)
    yield thread.start()
    thread.stop()


# The stays are several seeded workers': the messages name the patient by the HIS's id only
# (a citizen ID of another worker is refused, VISIT_OF_ANOTHER_WORKER).
ANY_WORKER = m.pid(citizen_id="")


def _a08(control_id: str, visit: str) -> bytes:
    return m.adt("A08", control_id, visit, patient=ANY_WORKER).encode()


def _fees(control_id: str, visit: str) -> bytes:
    line = m.ft1("L1", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                 when=ts(NOW - timedelta(days=1)))  # fmt: skip
    return m.message(m.msh("P03", control_id), "EVN|P03|" + ts(NOW), ANY_WORKER,
                     m.pv1(visit), line).encode()  # fmt: skip


def _code(port: int, message: bytes) -> str:
    return Hl7Message(exchange(port, message)).require("MSA").get(1)


def _ack_commit(seen: list[Commit]) -> Commit:
    """The one commit that stored an outcome and ACK (the attempt row): the last one."""
    stored = [c for c in seen if "hl7_message_attempt" in c.tables]
    assert len(stored) == 1, seen
    assert seen[-1] is stored[0], seen
    return stored[0]


def test_an_a08_and_a_dft_sync_once_when_their_ack_is_stored(
    port: int, db: Engine, commits: Commits
) -> None:
    assert _code(port, admit("S1", "V1")) == "AA"
    admitted = commits.take()
    # An admission queues its upload: its own commit stays synced (a worker may deliver it).
    assert [c.level for c in admitted if "encounter" in c.tables] == [FULL], admitted

    for message in (_a08("S2", "V1"), _fees("S3", "V1")):
        assert _code(port, message) == "AA"
        seen = commits.take()
        ack = _ack_commit(seen)
        assert ack.level == FULL
        before = seen[:-1]
        assert any("hl7_message" in c.tables for c in before), seen  # the receipt, logged first
        assert any(c.tables - {"hl7_message"} for c in before), seen  # the message's effect
        assert {c.level for c in before} == {NORMAL}, seen
        assert {c.thread for c in seen} == {ack.thread}  # all in the listener's thread

    # Back in the pool, a connection commits as configured again.
    with db.begin() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == FULL


class _WriteElsewhereMeanwhile:
    """Encounter commands that, before an A08 is applied (inside its deferred step), have
    another thread write and commit, as a REST call would, and wait for it."""

    def __init__(self, inner: EncounterCommands, write: Callable[[], None]) -> None:
        self._inner = inner
        self._write = write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome:
        other = threading.Thread(target=self._write, name="rest-write")
        other.start()
        other.join()
        return self._inner.update_visit(command, actor=actor)


def test_a_write_on_another_thread_meanwhile_still_syncs(
    db: Engine, services: Services, commits: Commits
) -> None:
    def rest_write() -> None:
        with db.begin() as connection:
            connection.execute(text("INSERT INTO probe VALUES (1)"))

    with db.begin() as connection:
        connection.execute(text("CREATE TABLE probe (x INTEGER)"))
    thread = _listen(db, _WriteElsewhereMeanwhile(services.commands, rest_write))
    port = thread.start()
    try:
        assert _code(port, admit("W1", "V1")) == "AA"
        commits.take()
        assert _code(port, _a08("W2", "V1")) == "AA"
    finally:
        thread.stop()
    seen = commits.take()
    elsewhere = [c for c in seen if c.thread == "rest-write"]
    assert [c.level for c in elsewhere] == [FULL], seen
    mine = [c for c in seen if c.thread != "rest-write"]
    assert _ack_commit(mine).level == FULL
    assert {c.level for c in mine[:-1]} == {NORMAL}, seen  # the deferral was on meanwhile


@pytest.mark.parametrize("synchronous", ["normal"], indirect=True)
def test_with_normal_commits_nothing_changes(port: int, commits: Commits) -> None:
    assert _code(port, admit("N1", "V1")) == "AA"
    commits.take()
    assert _code(port, _a08("N2", "V1")) == "AA"
    assert _code(port, _fees("N3", "V1")) == "AA"
    assert {c.level for c in commits.seen} == {NORMAL}
    assert commits.pragmas == []  # not one switch: the engine keeps its level
