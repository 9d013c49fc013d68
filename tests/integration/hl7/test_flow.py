"""Whole stays over real MLLP sockets, durable before ACK, duplicates, operator functions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.hl7 import build_inbound
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import PROFILE, Running
from tests.integration.hl7.fakes import UNFILED_CITIZEN
from tests.unit.hl7 import messages as m


def parse_ack(raw: bytes, codec: str = "utf-8") -> Hl7Message:
    return Hl7Message(raw.decode(codec))


def code_of(raw: bytes, codec: str = "utf-8") -> str:
    return parse_ack(raw, codec).require("MSA").get(1)


@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "GB 18030-2000"])
def test_complete_stay_admit_fees_discharge(running: Running, charset: str) -> None:
    codec = "gb18030" if charset.startswith("GB") else "utf-8"
    client = running.client()
    sends = [
        m.admit("C1", charset=charset),
        m.dft(
            "C2",
            [
                m.ft1("L1"),
                m.ft1(
                    "L2",
                    code="BED01",
                    name="床位费",
                    system="",
                    quantity="1",
                    amount="60.00",
                    price="60.00",
                ),
            ],
            charset=charset,
        ),
        m.dft(
            "C3",
            [
                m.ft1(
                    "L3",
                    code="RH001",
                    name="运动疗法",
                    system="",
                    quantity="1",
                    amount="90.00",
                    price="90.00",
                )
            ],
            charset=charset,
        ),
        m.dft("C4", [m.ft1("L4", kind="CD", reverses="L1")], charset=charset),
        m.adt("A03", "C5", charset=charset),
    ]
    for index, text in enumerate(sends, start=1):
        ack = parse_ack(client.send(m.encode(text, charset)), codec)
        assert ack.require("MSA").get(1) == "AA", ack.first("ERR") and ack.require("ERR").get(8)
        assert ack.require("MSA").get(2) == f"C{index}"
        assert ack.msh.get(18) == charset
    client.close()
    encounter = running.fake.encounters["V0001"]
    assert encounter.status == "settled"
    assert running.fake.total("V0001") == Decimal("150.00")
    assert encounter.lines["L4"].reverses == "L1"
    logged = running.log.search(visit_number="V0001")
    assert [row.outcome for row in logged] == ["accepted"] * 5
    assert {row.charset for row in logged} == {charset}
    detail = json.loads(logged[0].detail or "{}")
    assert detail["status"] == "settled" and detail["settlement_id"] == "S-E1"


def test_cancel_admission_and_cancel_discharge_undo(running: Running) -> None:
    client = running.client()
    assert code_of(client.send(m.admit("A1", visit="V9").encode())) == "AA"
    assert code_of(client.send(m.adt("A11", "A2", visit="V9").encode())) == "AA"
    assert running.fake.encounters["V9"].status == "cancelled"
    assert code_of(client.send(m.admit("B1", visit="V8").encode())) == "AA"
    assert code_of(client.send(m.adt("A03", "B2", visit="V8").encode())) == "AA"
    assert code_of(client.send(m.adt("A13", "B3", visit="V8").encode())) == "AA"
    assert running.fake.encounters["V8"].status == "revoked"


def test_the_row_and_its_ack_are_stored_when_the_ack_arrives(running: Running) -> None:
    client = running.client()
    raw = m.admit("DUR-1").encode()
    ack = client.send(raw)
    rows = running.log.search(control_id="DUR-1")  # no waiting: it must already be there
    assert len(rows) == 1
    assert rows[0].raw == raw
    assert rows[0].ack == ack
    assert rows[0].peer == "127.0.0.1"
    assert (rows[0].sender_application, rows[0].sender_facility) == ("HIS", "H1")
    assert rows[0].message_type == "ADT^A01" and rows[0].visit_number == "V0001"
    assert len(running.log.attempts(rows[0].id)) == 1


def test_message_is_stored_before_the_service_runs(running: Running) -> None:
    seen: list[int] = []
    original = running.fake.admit

    def admit(command, *, actor):  # type: ignore[no-untyped-def]
        seen.append(len(running.log.search(control_id="PRE-1")))
        assert actor == "hl7:HIS^H1"
        return original(command, actor=actor)

    running.fake.admit = admit  # type: ignore[method-assign]
    assert code_of(running.client().send(m.admit("PRE-1").encode())) == "AA"
    assert seen == [1]


@pytest.mark.parametrize("citizen", ["110101199001011234", UNFILED_CITIZEN])
def test_a_repeated_control_id_gets_the_first_ack_and_is_not_reprocessed(
    running: Running, citizen: str
) -> None:
    text = m.admit("DUP-1").replace("110101199001011234", citizen)
    first = running.client().send(text.encode())
    second = running.client().send(text.encode())
    assert second == first
    assert running.fake.count("admit") == 1
    rows = running.log.search(control_id="DUP-1")
    assert rows[0].outcome == "duplicate"
    assert rows[0].duplicate_of == rows[1].id
    other_sender = text.replace("|HIS|H1|", "|HIS2|H1|")
    assert running.client().send(other_sender.encode()) != first
    assert running.fake.count("admit") == 2


def test_business_refusal_is_ae_with_one_err_per_reason(running: Running) -> None:
    text = m.admit("REF-1").replace("110101199001011234", UNFILED_CITIZEN)
    ack = parse_ack(running.client().send(text.encode()))
    assert ack.require("MSA").get(1) == "AE"
    errs = ack.all("ERR")
    assert [(e.get(3), e.get(7), e.get(8)) for e in errs] == [
        ("FILING_MISSING", "N§16, B§26", "未查询到有效备案"),
        ("CARD_LOST", "B§28", "社保卡已挂失"),
    ]
    assert running.fake.encounters == {}
    assert running.log.search(control_id="REF-1")[0].outcome == "refused"


def test_transient_failure_lets_the_same_control_id_be_processed_again(running: Running) -> None:
    running.fake.upstream_down = True
    client = running.client()
    ack = parse_ack(client.send(m.admit("TR-1").encode()))
    assert ack.require("MSA").get(1) == "AE"
    assert ack.require("ERR").get(3) == "UPSTREAM_UNAVAILABLE"
    running.fake.upstream_down = False
    assert code_of(client.send(m.admit("TR-1").encode())) == "AA"
    assert running.fake.count("admit") == 2
    assert [row.outcome for row in running.log.search(control_id="TR-1")] == [
        "accepted",
        "transient",
    ]


def test_unexpected_error_is_answered_logged_and_reprocessable(running: Running) -> None:
    running.fake.explode = True
    ack = parse_ack(running.client().send(m.admit("BUG-1").encode()))
    assert ack.require("MSA").get(1) == "AE"
    assert ack.require("ERR").get(3) == "207"
    running.fake.explode = False
    (row,) = running.log.search(control_id="BUG-1", outcome="failed")
    inbound = build_inbound(running.engine, running.fake, PROFILE)
    after = inbound.reprocess(row.id, actor="it:alice")
    assert after.outcome == "accepted" and after.attempts == 2
    history = running.log.attempts(row.id)
    assert [(a.outcome, a.actor) for a in history] == [
        ("failed", "hl7:HIS^H1"),
        ("accepted", "it:alice"),
    ]
    assert running.fake.encounters["V0001"].status == "admitted"
    # the first final ACK now answers repeats
    assert running.client().send(m.admit("BUG-1").encode()) == after.ack
    assert running.fake.count("admit") == 2


def test_fees_before_admission_are_refused_then_reprocessed_after_the_fix(running: Running) -> None:
    client = running.client()
    ack = parse_ack(client.send(m.dft("EARLY", [m.ft1("L1")], visit="V5").encode()))
    assert ack.require("MSA").get(1) == "AE" and ack.require("ERR").get(3) == "NOT_FOUND"
    assert code_of(client.send(m.admit("ADM5", visit="V5").encode())) == "AA"
    (early,) = running.log.search(control_id="EARLY")
    redone = build_inbound(running.engine, running.fake, PROFILE).reprocess(early.id)
    assert redone.outcome == "accepted"
    assert list(running.fake.encounters["V5"].lines) == ["L1"]


def test_operator_search_filters(running: Running) -> None:
    client = running.client()
    client.send(m.admit("S1", visit="VA").encode())
    client.send(m.dft("S2", [m.ft1("L1")], visit="VA").encode())
    client.send(m.dft("S3", [m.ft1("L1", kind="XX")], visit="VB").encode())
    log = running.log
    assert [r.control_id for r in log.search(message_type="DFT")] == ["S3", "S2"]
    assert [r.control_id for r in log.search(message_type="ADT^A01")] == ["S1"]
    assert [r.control_id for r in log.search(outcome="rejected")] == ["S3"]
    assert [r.control_id for r in log.search(visit_number="VA")] == ["S2", "S1"]
    first = log.search(control_id="S1")[0]
    assert log.search(since=first.received_at, control_id="S1") == [first]
    assert log.search(until=first.received_at, control_id="S1") == []


def test_HL7_CONTROL_ID_REUSED_a_control_id_sent_again_with_another_message_is_refused(
    running: Running,
) -> None:
    # An HIS whose MSH-10 counter restarted sends its next fees under a control id it used
    # already: they were answered with the first message's AA and never recorded — the
    # stay settled without them (N§47: the fees uploaded are the fees incurred).
    client = running.client()
    assert code_of(client.send(m.admit("ADM-1").encode())) == "AA"
    first = client.send(m.dft("DFT-1", [m.ft1("L1")]).encode())
    assert code_of(first) == "AA"
    reused = parse_ack(client.send(m.dft("DFT-1", [m.ft1("L2", amount="60.00")]).encode()))
    assert reused.require("MSA").get(1) == "AR" and reused.require("MSA").get(2) == "DFT-1"
    err = reused.require("ERR")
    assert (err.get(3), err.get(5)) == ("205", "HL7_CONTROL_ID_REUSED")
    assert "DFT-1" in err.get(8)
    assert sorted(running.fake.encounters["V0001"].lines) == ["L1"]  # nothing recorded
    assert running.fake.count("record_fees") == 1
    # the same message again, only its MSH-7 (time) stamped anew, is the resend it is
    resent = m.dft("DFT-1", [m.ft1("L1")]).replace("20260301120000+0800", "20260301120500+0800")
    assert client.send(resent.encode()) == first
    assert running.fake.count("record_fees") == 1
    # the first message keeps its control id: a later resend still gets the first ACK
    assert client.send(m.dft("DFT-1", [m.ft1("L1")]).encode()) == first
