"""What a HIS sends that the duplicate check must tell apart, over a real MLLP socket: the same
message sent again, and another message under an MSH-10 already used."""

from __future__ import annotations

import pytest

from tests.integration.hl7.conftest import Running
from tests.integration.hl7.test_flow import parse_ack
from tests.unit.hl7 import messages as m


def test_another_message_under_a_used_control_id_is_refused_not_answered_as_a_resend(
    running: Running,
) -> None:
    """A HIS whose MSH-10 counter restarted sent a new fee batch (L2, 80.00) under the id of
    one already taken (L1): it got the first batch's AA back and L2 was never recorded."""
    client = running.client()
    assert parse_ack(client.send(m.admit("C6").encode())).require("MSA").get(1) == "AA"
    first = m.dft("C7", [m.ft1("L1")])
    first_ack = client.send(first.encode())
    assert parse_ack(first_ack).require("MSA").get(1) == "AA"
    other = m.dft("C7", [m.ft1("L2", quantity="1", amount="80.00", price="80.00")])
    ack = parse_ack(client.send(other.encode()))
    err = ack.require("ERR")
    assert (ack.require("MSA").get(1), ack.require("MSA").get(2)) == ("AR", "C7")
    assert (err.get(2, 0), err.get(3), err.get(5)) == ("MSH^1^10", "205", "HL7_CONTROL_ID_REUSED")
    assert "C7" in err.get(8)
    assert list(running.fake.encounters["V0001"].lines) == ["L1"]
    assert running.fake.count("record_fees") == 1
    # the first message sent again — restamped MSH-7, other line endings — is still a resend
    resent = first.replace("20260301120000+0800", "20260301121500+0800").replace("\r", "\r\n")
    assert client.send(resent.encode()) == first_ack
    assert running.fake.count("record_fees") == 1
    outcomes = [row.outcome for row in running.log.search(control_id="C7")]
    assert outcomes == ["duplicate", "rejected", "accepted"]


def test_hl7_null_in_a_fee_line_is_no_value_not_two_quote_marks(running: Running) -> None:
    """FT1-12 and FT1-13 sent as HL7's null ``""``: the batch was refused (AR, "数值无效" at
    FT1-12) although FT1-11 carried the amount."""
    client = running.client()
    assert parse_ack(client.send(m.admit("Q1").encode())).require("MSA").get(1) == "AA"
    line = m.ft1("L1", quantity="2", amount="24.00", price='""', department='""')
    ack = parse_ack(client.send(m.dft("Q2", [line]).encode()))
    assert ack.require("MSA").get(1) == "AA", ack.first("ERR") and ack.require("ERR").get(8)
    stored = running.fake.encounters["V0001"].lines["L1"]
    assert (stored.unit_price, stored.amount, stored.department) == (12, 24, "")


@pytest.mark.parametrize("processing", ["T", "D"])
def test_a_training_or_debugging_message_is_not_applied_to_real_stays(
    running: Running, processing: str
) -> None:
    """MSH-11 T (a HIS training system pointed at the adapter) or D: the admission was
    registered as a real one (and queued upstream), answered AA."""
    client = running.client()
    text = m.admit("T1").replace("|T1|P|2.5|", f"|T1|{processing}|2.5|")
    ack = parse_ack(client.send(text.encode()))
    err = ack.require("ERR")
    assert (ack.require("MSA").get(1), err.get(2, 0), err.get(3)) == ("AR", "MSH^1^11", "202")
    assert running.fake.count("admit") == 0
    assert running.fake.encounters == {}
    assert parse_ack(client.send(m.admit("T2").encode())).require("MSA").get(1) == "AA"


def test_a_transfer_moves_the_stay_to_its_new_department(running: Running) -> None:
    """ADT^A02 (转科) was refused as an unsupported event (AR): the stay kept 骨科病区 and
    every transfer raised the AR alert."""
    client = running.client()
    assert parse_ack(client.send(m.admit("M1").encode())).require("MSA").get(1) == "AA"
    transfer = m.message(m.msh("A02", "M2"), "EVN|A02|20260305100000", m.pid(),
                         m.pv1(department="康复医学科病区")).encode()  # fmt: skip
    ack = parse_ack(client.send(transfer))
    assert ack.require("MSA").get(1) == "AA", ack.first("ERR") and ack.require("ERR").get(8)
    assert running.fake.encounters["V0001"].department == "康复医学科病区"
    nowhere = m.message(m.msh("A02", "M3"), "EVN|A02|20260305100000", m.pid(),
                        m.pv1(department="")).encode()  # fmt: skip
    ack = parse_ack(client.send(nowhere))
    assert (ack.require("MSA").get(1), ack.require("ERR").get(2, 0)) == ("AR", "PV1^1^3")
    assert running.fake.encounters["V0001"].department == "康复医学科病区"


def _register(control_id: str, version: str) -> bytes:
    """ADT^A04 (门诊登记) as a HIS sends it for every outpatient, work-injury or not."""
    outpatient = m.seg("PV1", {1: "1", 2: "O", 3: "骨科门诊", 19: "MZ0001"})
    header = m.msh("A04", control_id, version=version)
    return m.message(header, "EVN|A04|20260301080000", m.pid(), outpatient).encode()


@pytest.mark.parametrize("version", ["2.5", "2.3"])
def test_HL7_NOT_DIRECT_SETTLEMENT_n3_an_outpatient_registration_is_refused_saying_why(
    running: Running, version: str
) -> None:
    """ADT^A04 was answered like a typo in MSH-9 ("不支持的事件：ADT^A04"): the HIS team read it
    as a gap in the adapter and kept resending. Direct settlement covers inpatient treatment,
    inpatient rehab and devices only (N§3), so the AR now says that an outpatient visit is not
    one, keeping the standard answer (MSH-9.2, 201) and the message in the log."""
    raw = _register("R1", version)
    ack = parse_ack(running.client().send(raw))
    msa = ack.require("MSA")
    assert (msa.get(1), msa.get(2)) == ("AR", "R1")
    if version == "2.5":
        err = ack.require("ERR")
        assert (err.get(2, 0), err.get(3, 1), err.get(3, 2), err.get(3, 3)) == (
            "MSH^1^9^1^2",
            "201",
            "Unsupported event code",
            "HL70357",
        )
        assert err.get(5) == "HL7_NOT_DIRECT_SETTLEMENT"
        text = err.get(8)
    else:  # no ERR-2…8 before 2.5: the location and code in ERR-1, the text in MSA-3
        assert ack.require("ERR").get(1, 0) == "MSH^1^9^201&Unsupported event code&HL70357"
        text = msa.get(3)
    assert all(part in text for part in ("门诊登记（ADT^A04）", "N§3", "ADT^A01")), text
    assert running.fake.calls == []
    logged = running.log.search(control_id="R1")[0]
    assert (logged.raw, logged.message_type, logged.outcome) == (raw, "ADT^A04", "rejected")
    assert '"article": "N§3"' in (logged.detail or "")
