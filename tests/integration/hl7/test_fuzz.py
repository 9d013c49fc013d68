"""Fuzz: mutated valid messages always get a well-formed ACK (or a clean close), and the log
and the service's state never hold anything half-written or corrupt."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.store.db import make_engine
from connectors.hl7 import ListenerConfig, ListenerThread, MessageLog, build_listener, create_tables
from connectors.hl7.header import HeaderUnreadable, read_header
from connectors.hl7.message_log import OUTCOMES
from connectors.hl7.mllp import END_BLOCK, Frame, MllpDecoder, Oversize, frame
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import PROFILE
from tests.integration.hl7.fakes import FakeEncounters
from tests.unit.hl7 import messages as m

MAX_BYTES = 4096
SEEDS = [
    m.encode(m.admit("Z1", visit="VZ")),
    m.encode(m.admit("Z2", visit="VY", charset="GB 18030-2000"), "GB 18030-2000"),
    m.encode(m.dft("Z3", [m.ft1("L1"), m.ft1("L2", kind="CD", reverses="L1")], visit="VZ")),
    m.encode(m.adt("A03", "Z4", visit="VZ", version="2.3")),
    m.encode(m.adt("A11", "Z5", visit="VY", version="2.4")),
    m.encode(m.adt("A08", "Z6", visit="VZ", version="2.5.1")),
]
SPECIAL = [
    b"|",
    b"^",
    b"~",
    b"\\",
    b"&",
    b"\r",
    b"\n",
    b"\x0b",
    b"\x1c",
    b"\x1c\r",
    b"\xff",
    "张".encode(),
    b"MSH|",
    b"-",
    b".",
    b"0",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        piece = draw(st.one_of(st.sampled_from(SPECIAL), st.binary(min_size=1, max_size=3)))
        if action == "replace" and data:
            data[at : at + len(piece)] = piece
        elif action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 2000))]
    return bytes(data)


def is_well_formed_ack(raw: bytes) -> bool:
    header = read_header(raw)
    assert header.message_code == "ACK" and header.codec is not None
    ack = Hl7Message(raw.decode(header.codec))
    return ack.require("MSA").get(1) in ("AA", "AE", "AR")


def test_fuzzed_messages_get_an_ack_or_a_clean_close(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/fuzz.db")
    create_tables(engine)
    fake = FakeEncounters()
    log = MessageLog(engine)
    config = ListenerConfig(port=0, max_message_bytes=MAX_BYTES, message_timeout_s=5)
    thread = ListenerThread(build_listener(engine, fake, PROFILE, config))
    port = thread.start()
    try:

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(payload=mutated())
        def check(payload: bytes) -> None:
            before = log.count()
            wire = frame(payload)
            events = MllpDecoder(MAX_BYTES).feed(wire)  # what the listener will see
            expected = [e for e in events if isinstance(e, Frame | Oversize)]
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(wire)
                buffer, acks, closed = b"", [], False
                while len(acks) < len(expected) and not closed:
                    if END_BLOCK in buffer:
                        message, _, buffer = buffer.partition(END_BLOCK)
                        acks.append(message.lstrip(b"\x0b"))
                        continue
                    chunk = sock.recv(65536)
                    closed = chunk == b""
                    buffer += chunk
            for ack in acks:
                assert is_well_formed_ack(ack)
            unreadable_oversize = [
                e for e in expected if isinstance(e, Oversize) and not _readable(e.head)
            ]
            if not unreadable_oversize:
                assert len(acks) == len(expected)  # no frame ever went unanswered
            rows = log.search(limit=1000)[: log.count() - before]
            frames = {e.payload for e in expected if isinstance(e, Frame)}
            for row in rows:
                assert row.ack is not None and row.outcome in OUTCOMES
                assert row.raw in frames or row.size > MAX_BYTES

        check()
        for encounter in fake.encounters.values():
            for line in encounter.lines.values():
                assert line.amount == line.amount.quantize(Decimal("0.01"))
                assert line.occurred_at.tzinfo is not None
        assert all(row.ack is not None for row in log.search(limit=100_000))
    finally:
        thread.stop()
        engine.dispose()


def _readable(head: bytes) -> bool:
    try:
        read_header(head)
    except HeaderUnreadable:
        return False
    return True
