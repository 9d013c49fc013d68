"""Each malformed or unsupported case gets the right ACK and leaves nothing half-written."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.hl7.mllp import frame
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import Running
from tests.unit.hl7 import messages as m

VALID = m.admit("OK-1").encode()


@dataclass(frozen=True)
class Case:
    name: str
    wire: bytes  # exactly what goes on the socket
    code: str  # MSA-1 expected
    location: str  # ERR-2 "segment^sequence^field" expected ('' = not checked)
    err3: str


CASES = [
    Case("no MSH", frame(b"PID|1||x^^^^NI\rPV1|1|I\r"), "AR", "MSH^1", "100"),
    Case(
        "bad framing: an unterminated frame, then a good one",
        b"\x0bMSH|^~\\&|HIS|H1|||2026||ADT^A01|HALF|P|2.5\rPID|" + frame(VALID),
        "AA",
        "",
        "",
    ),
    Case(
        "unknown event",
        frame(m.admit("E-1").replace("ADT^A01^ADT_A01", "ADT^A99").encode()),
        "AR",
        "MSH^1^9^1^2",
        "201",
    ),
    Case(
        "unknown message type",
        frame(m.admit("E-2").replace("ADT^A01^ADT_A01", "ORU^R01").encode()),
        "AR",
        "MSH^1^9^1^1",
        "200",
    ),
    Case(
        "wrong charset label",
        frame(m.admit("E-3").replace("UNICODE UTF-8", "KOI8-R").encode()),
        "AR",
        "MSH^1^18",
        "103",
    ),
    Case(
        "bytes that are not the declared charset",
        frame(m.admit("E-4").encode("gb18030")),
        "AR",
        "MSH^1^18",
        "102",
    ),
    Case(
        "unsupported version",
        frame(m.admit("E-5").replace("|P|2.5|", "|P|2.7|").encode()),
        "AR",
        "MSH^1^12",
        "203",
    ),
    Case(
        "truncated segment",
        frame(m.admit("E-6").split("PV1|")[0].encode() + b"PV"),
        "AR",
        "PV^1",
        "100",
    ),
    Case(
        "truncated message (PV1 cut before PV1-19)",
        frame(m.admit("E-7").split("|V0001")[0].encode()),
        "AR",
        "PV1^1^19",
        "101",
    ),
    Case(
        "FT1-6 neither CG nor CD",
        frame(m.dft("E-8", [m.ft1("L1", kind="PY")]).encode()),
        "AR",
        "FT1^1^6",
        "103",
    ),
    Case(
        # a HIS that batches two messages into one frame: the second must not vanish
        # behind the first's AA; the HIS resends each in its own frame
        "two messages in one frame",
        frame((m.admit("E-10", visit="V0010") + m.admit("E-11", visit="V0011")).encode()),
        "AR",
        "MSH^2",
        "100",
    ),
    Case(
        "two PID segments naming different workers",
        frame(
            m.admit("E-12")
            .replace(m.pid() + "\r", m.pid() + "\r" + m.pid("李四", "110101199202023456") + "\r")
            .encode()
        ),
        "AR",
        "PID^2",
        "100",
    ),
    Case(
        "two ZWI segments naming different cards",
        frame((m.admit("E-13") + m.zwi(card_no="B87654321")).encode()),
        "AR",
        "ZWI^2",
        "100",
    ),
    Case(
        "unknown encounter",
        frame(m.dft("E-9", [m.ft1("L1")], visit="NOPE").encode()),
        "AE",
        "",
        "NOT_FOUND",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_case_gets_the_right_ack(running: Running, case: Case) -> None:
    client = running.client()
    client.send_raw(case.wire)
    raw = client.read_ack()
    ack = Hl7Message(raw.decode("utf-8"))
    assert ack.require("MSA").get(1) == case.code
    if case.err3:
        err = ack.require("ERR")
        assert err.get(3) == case.err3
        assert err.get(8)  # a Chinese explanation
        if case.location:
            assert err.raw(2) == case.location
    # nothing half-written: the fake saw no successful write, and the log has one finished row
    assert running.fake.encounters == ({} if case.code != "AA" else running.fake.encounters)
    if case.code != "AA":
        assert running.fake.count("admit") == 0
    rows = running.log.search()
    assert len(rows) == 1
    assert rows[0].ack == raw
    assert rows[0].outcome == {"AA": "accepted", "AE": "refused", "AR": "rejected"}[case.code]
    # the connection still works
    assert Hl7Message(client.send(m.adt("A08", "AFTER").encode()).decode()).require("MSA").get(1)


def test_oversized_message_with_readable_header_gets_ar(start_listener) -> None:
    running = start_listener(max_message_bytes=2048)
    client = running.client()
    big = m.dft("BIG-1", [m.ft1(f"L{i}") for i in range(200)]).encode()
    ack = Hl7Message(client.send(big).decode())
    assert ack.require("MSA").get(1) == "AR" and ack.require("MSA").get(2) == "BIG-1"
    assert ack.require("ERR").get(5) == "HL7_TOO_LARGE"
    (row,) = running.log.search()
    assert row.size == len(big) and len(row.raw) < len(big) and row.outcome == "rejected"
    assert running.fake.calls == []
    # a normal message on the same connection is still served
    assert Hl7Message(client.send(m.admit("OK-2").encode()).decode()).require("MSA").get(1) == "AA"


def test_oversized_message_without_header_closes_the_connection(start_listener) -> None:
    running = start_listener(max_message_bytes=2048)
    client = running.client()
    client.send_raw(frame(b"X" * 5000))
    assert client.is_closed_by_peer()
    assert running.log.count() == 0
