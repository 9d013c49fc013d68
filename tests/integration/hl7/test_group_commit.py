"""Several senders' ADT^A08s in one synced commit, on SQLite (group commit).

The real use cases and the MLLP listener on a real socket, over a real SQLite file that syncs
every commit, wired as the runtime wires it (``transactions`` from the store). The first A08
is held inside its use case until the others are waiting, so they form the next group
together. A hook on the engine notes each commit that stored ACKs (attempt rows) and its
``PRAGMA synchronous``.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from adapter.domain.commands import EncounterCommands, Outcome, UpdateVisit
from adapter.services.container import Services
from adapter.store.audit import verify
from adapter.store.db import deferred_sync, joined_transaction, one_transaction
from adapter.store.uow import UnitOfWork
from connectors.hl7 import (
    Hl7Inbound,
    ListenerConfig,
    ListenerThread,
    MllpListener,
    Transactions,
    build_inbound,
    create_tables,
)
from connectors.hl7.message_tables import hl7_message, hl7_message_attempt
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.synced_sqlite import *  # noqa: F403 - the synced engine, the use cases
from tests.integration.hl7.synced_sqlite import FULL, admit
from tests.integration.hl7.with_services import HL7_PROFILE
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


class AckCommits:
    """Each commit that stored ACKs: how many, and its ``PRAGMA synchronous``."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[int, int]] = []  # (attempt rows, level)
        self._acks: dict[int, int] = {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO hl7_message_attempt"):
            self._acks[id(conn)] = self._acks.get(id(conn), 0) + 1

    def _commit(self, conn: Any) -> None:
        acks = self._acks.pop(id(conn), 0)
        if acks:
            level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
            self.seen.append((acks, level))


class HoldFirst:
    """Encounter commands whose first A08 waits, inside its group, until ``others`` more
    messages wait for the next group (so they are committed together)."""

    def __init__(self, inner: EncounterCommands, others: int) -> None:
        self._inner = inner
        self._others = others
        self.inbound: Hl7Inbound | None = None
        self.held = threading.Event()
        self.released = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def update_visit(self, command: UpdateVisit, *, actor: str) -> Outcome:
        if not self.held.is_set():
            self.held.set()
            assert self.inbound is not None and self.inbound._group is not None
            deadline = time.monotonic() + 20
            while self.inbound._group.pending < self._others:
                assert time.monotonic() < deadline, "the other messages never arrived"
                time.sleep(0.005)
            self.released.set()
        return self._inner.update_visit(command, actor=actor)


def _listen(db: Engine, commands: HoldFirst) -> ListenerThread:
    create_tables(db)
    transactions = Transactions(partial(one_transaction, db), partial(joined_transaction, db))
    inbound = build_inbound(
        db, commands, HL7_PROFILE, defer_sync=deferred_sync, transactions=transactions
    )
    commands.inbound = inbound
    config = ListenerConfig(host="127.0.0.1", port=0, workers=8)
    return ListenerThread(MllpListener(inbound, config))


def _a08(control_id: str, visit: str, department: str) -> bytes:
    # the stays are several seeded workers': the patient named by the HIS's id only (a
    # citizen ID of another worker is refused, VISIT_OF_ANOTHER_WORKER)
    patient = m.pid(citizen_id="")
    return m.message(
        m.msh("A08", control_id), "EVN|A08", patient, m.pv1(visit, department=department)
    ).encode()


def _ack(port: int, message: bytes) -> Hl7Message:
    return Hl7Message(exchange(port, message))


def _send_together(port: int, first: bytes, others: list[bytes], hold: HoldFirst) -> list[str]:
    """``first`` (held in its group), then ``others`` at once once it is held: their ACKs."""
    with ThreadPoolExecutor(len(others) + 1) as pool:
        leading = pool.submit(exchange, port, first)
        assert hold.held.wait(20)
        rest = [pool.submit(exchange, port, message) for message in others]
        return [leading.result(30), *(f.result(30) for f in rest)]


def _updates(db: Engine) -> list[str]:
    with UnitOfWork(db) as uow:
        return [e.subject_id for e in uow.audit.query(action="encounter.update_visit")]


def _department(db: Engine, services: Services, visit: str) -> str:
    return services.stays.find_by_visit(visit).department


def test_a08s_arriving_together_share_one_synced_commit(db: Engine, services: Services) -> None:
    hold = HoldFirst(services.commands, others=4)
    thread = _listen(db, hold)
    port = thread.start()
    try:
        assert _ack(port, admit("G0", "V1")).require("MSA").get(1) == "AA"
        commits = AckCommits(db)
        others = [_a08(f"G{n}", "V1", f"骨科{n}病区") for n in range(2, 6)]
        acks = _send_together(port, _a08("G1", "V1", "骨科1病区"), others, hold)
    finally:
        thread.stop()

    assert [Hl7Message(a).require("MSA").get(1) for a in acks] == ["AA"] * 5
    # The held one alone, then the four that waited for it in one commit: two syncs, not five.
    assert commits.seen == [(1, FULL), (4, FULL)]
    assert len(_updates(db)) == 5  # each A08 applied once, in turn, to the same stay
    assert _department(db, services, "V1") in {f"骨科{n}病区" for n in range(2, 6)}
    assert verify(db).ok
    with db.connect() as connection:
        rows = connection.execute(
            select(hl7_message.c.outcome, hl7_message.c.attempts, hl7_message.c.ack).where(
                hl7_message.c.message_type == "ADT^A08"
            )
        ).all()
    assert sorted(r.outcome for r in rows) == ["accepted"] * 5
    assert {r.attempts for r in rows} == {1}
    assert sorted(r.ack.decode() for r in rows) == sorted(acks)  # each sent as stored


def test_a_repeat_in_the_same_group_gets_the_first_messages_ack(
    db: Engine, services: Services
) -> None:
    hold = HoldFirst(services.commands, others=2)
    thread = _listen(db, hold)
    port = thread.start()
    try:
        assert _ack(port, admit("R0", "V1")).require("MSA").get(1) == "AA"
        repeat = _a08("R2", "V1", "骨科2病区")
        acks = _send_together(port, _a08("R1", "V1", "骨科1病区"), [repeat, repeat], hold)
    finally:
        thread.stop()

    assert acks[1] == acks[2]  # the same ACK, byte for byte
    assert Hl7Message(acks[1]).require("MSA").get(1) == "AA"
    assert len(_updates(db)) == 2  # R1 and R2, the repeat not applied again
    with db.connect() as connection:
        outcomes = connection.execute(
            select(hl7_message.c.outcome).where(hl7_message.c.control_id == "R2")
        ).scalars()
        assert sorted(outcomes) == ["accepted", "duplicate"]


def test_a_group_that_fails_is_answered_message_by_message_and_nothing_twice(
    db: Engine, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    hold = HoldFirst(services.commands, others=3)
    thread = _listen(db, hold)
    port = thread.start()
    faults = {"armed": False, "stored": 0}

    def fault(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The disk fails once, storing the second ACK of the second group, after the first
        # message of that group wrote its receipt, its visit update and its ACK.
        if faults["armed"] and statement.startswith("INSERT INTO hl7_message_attempt"):
            faults["stored"] += 1
            if faults["stored"] == 3:
                raise OperationalError(statement, None, Exception("disk I/O error"))

    event.listen(db, "before_cursor_execute", fault)
    try:
        assert _ack(port, admit("F0", "V1")).require("MSA").get(1) == "AA"
        faults["armed"] = True
        others = [_a08(f"F{n}", "V1", f"骨科{n}病区") for n in range(2, 5)]
        with caplog.at_level(logging.WARNING, logger="connectors.hl7"):
            acks = _send_together(port, _a08("F1", "V1", "骨科1病区"), others, hold)
    finally:
        event.remove(db, "before_cursor_execute", fault)
        thread.stop()

    assert [Hl7Message(a).require("MSA").get(1) for a in acks] == ["AA"] * 4
    assert "hl7.group_commit_failed" in caplog.messages
    # Rolled back whole, then each alone: every A08 applied and logged exactly once.
    assert len(_updates(db)) == 4
    assert verify(db).ok
    with db.connect() as connection:
        attempts = connection.execute(
            select(func.count())
            .select_from(hl7_message_attempt.join(hl7_message))
            .where(hl7_message.c.message_type == "ADT^A08")
        ).scalar_one()
        received = connection.execute(
            select(func.count()).where(hl7_message.c.message_type == "ADT^A08")
        ).scalar_one()
    assert (received, attempts) == (4, 4)
