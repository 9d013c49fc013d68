"""What a HIS really sends, over a real MLLP socket against the real use cases (simulator over
HTTP), on SQLite and PostgreSQL: another worker under a visit number already in use, HL7's
null ``""`` in an A08, an A08 before its A01, a name sent as ``\\X..\\`` in a GB 18030 message,
and the charset labels HIS systems put in MSH-18.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from adapter.services.container import Services
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import MllpClient
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import (
    CHEN,
    HL7_PROFILE,
    NOW,
    WANG,
    a01,
    a08,
    answer,
    dft,
    drug,
    listening,
    patient,
    ts,
)
from tests.unit.hl7 import messages as m


def _ack(port: int, message: bytes, codec: str = "utf-8") -> Hl7Message:
    client = MllpClient(port, timeout=30)
    try:
        return Hl7Message(client.send(message).decode(codec))
    finally:
        client.close()


def _stays(db: Engine) -> list[tuple[str, str, str]]:
    with db.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT his_visit_id, psn_no, department FROM encounter ORDER BY his_visit_id, psn_no"
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _encounter_field(db: Engine, column: str) -> object:
    with db.connect() as connection:
        return connection.exec_driver_sql(f"SELECT {column} FROM encounter").scalar_one()


def test_VISIT_OF_ANOTHER_WORKER_n33_an_a01_for_another_worker_under_a_used_visit_number(
    port: int, db: Engine
) -> None:
    """Two HIS patients with one visit number (a reused or per-patient 住院号): the second
    worker's A01 was answered AA as a resend of the first's, and the second worker was never
    admitted — the HIS and the clerk believed them registered (N§33)."""
    assert answer(_ack(port, a01("W1", "V1", WANG)))[0] == "AA"
    assert answer(_ack(port, a01("W2", "V1", CHEN, parts="右手"))) == (
        "AE",
        "VISIT_OF_ANOTHER_WORKER",
        "PV1^1^19",
    )
    assert [(visit, psn) for visit, psn, _ in _stays(db)] == [("V1", "P001")]
    # the first worker's own A01 sent again is still a resend
    assert answer(_ack(port, a01("W3", "V1", WANG)))[0] == "AA"


def test_an_a08_with_hl7_null_clears_the_value_and_an_absent_field_keeps_it(
    port: int, db: Engine
) -> None:
    assert answer(_ack(port, a01("N1", "V2", WANG)))[0] == "AA"
    assert answer(_ack(port, a08("N2", "V2", department="")))[0] == "AA"
    assert _stays(db)[0][2] == "骨科病区"  # PV1-3 not sent: unchanged
    assert answer(_ack(port, a08("N3", "V2", department='""')))[0] == "AA"
    assert _stays(db)[0][2] == ""  # not the two quote marks
    # ZWI-4 sent as "" is refused on a direct-settlement stay: test_injury_parts_with_services


def test_an_a08_before_its_a01_is_refused_naming_pv1_19(port: int, db: Engine) -> None:
    assert answer(_ack(port, a08("O1", "V3"))) == ("AE", "VISIT_NOT_FOUND", "PV1^1^19")
    fees = dft("O2", "V3", m.ft1("L1", when=ts(NOW - timedelta(hours=1))), who=m.pid())
    assert answer(_ack(port, fees)) == ("AE", "VISIT_NOT_FOUND", "PV1^1^19")


def test_a_name_sent_as_hex_escapes_in_a_gb18030_message_reads_as_sent(
    port: int, db: Engine
) -> None:
    """王建国 as ``\\XCDF5BDA8B9FA\\``: the bytes are GB 18030, the message's charset. Read as
    UTF-8 they became three replacement characters, and upstream refused the card for a
    name that did not match (CARD_REJECTED)."""
    hex_name = "\\X" + "王建国".encode("gb18030").hex().upper() + "\\"
    ack = _ack(port, a01("X1", "V4", WANG, name=hex_name, charset="GB 18030-2000"), "gb18030")
    assert answer(ack)[0] == "AA"
    assert [(visit, psn) for visit, psn, _ in _stays(db)] == [("V4", "P001")]


@pytest.mark.parametrize("label", ["GB18030", "GBK", "UTF-8"])
def test_the_charset_labels_his_systems_send_are_understood(
    port: int, db: Engine, label: str
) -> None:
    codec = "utf-8" if label == "UTF-8" else "gb18030"
    ack = _ack(port, a01("G1", "V5", WANG, charset=label), codec)
    assert answer(ack)[0] == "AA", ack.first("ERR") and ack.require("ERR").get(8)
    assert ack.msh.get(18) == label
    assert [(visit, psn) for visit, psn, _ in _stays(db)] == [("V5", "P001")]


def test_an_a13_withdraws_the_discharge_a_desk_settling_site_had_not_settled_yet(
    db: Engine, services: Services
) -> None:
    """A site that settles at the billing desk (discharge_settles = false): the A03 put the
    stay on the clerk's ready-to-settle list; the HIS's A13 cancelling that discharge was
    refused (NO_ACTIVE_SETTLEMENT) and the stay stayed on the list with the cancelled
    discharge time, for a clerk to settle a worker still in hospital (N§33)."""
    profile = replace(HL7_PROFILE, discharge_settles=False)
    with listening(db, services.commands, profile) as port:
        assert answer(_ack(port, a01("D1", "V6", WANG)))[0] == "AA"
        wang = patient()
        a03 = m.adt("A03", "D2", "V6", discharged=ts(NOW - timedelta(minutes=5)), patient=wang)
        assert answer(_ack(port, a03.encode()))[0] == "AA"
        assert _ready(db) == (True, True)
        assert answer(_ack(port, m.adt("A13", "D3", "V6", patient=wang).encode()))[0] == "AA"
        assert _ready(db) == (False, False)
        assert _encounter_field(db, "status") == "admitted"
        with db.connect() as connection:
            settled = connection.exec_driver_sql("SELECT count(*) FROM settlement").scalar_one()
        assert settled == 0


def _ready(db: Engine) -> tuple[bool, bool]:
    """(on the clerk's ready-to-settle list, a discharge time kept)."""
    with db.connect() as connection:
        ready, discharged = connection.exec_driver_sql(
            "SELECT ready_to_settle, discharged_at FROM encounter"
        ).one()
    return bool(ready), discharged is not None


def test_VISIT_OF_ANOTHER_WORKER_n33_messages_naming_another_worker_leave_the_stay_alone(
    port: int, db: Engine
) -> None:
    """A DFT, an A08 and an A03 under 王建国's visit number whose PID-3 names 陈静 (a HIS
    counting visits per patient): the fees were charged to 王建国's stay, the department
    changed and his stay settled, each answered AA."""
    assert answer(_ack(port, a01("P1", "V7", WANG)))[0] == "AA"
    chen = patient(CHEN)
    fees = dft("P2", "V7", drug(), who=chen)
    moved = m.message(m.msh("A08", "P3"), "EVN|A08|" + ts(NOW), chen,
                      m.pv1("V7", department="康复科")).encode()  # fmt: skip
    gone = m.message(m.msh("A03", "P4"), "EVN|A03|" + ts(NOW), chen,
                     m.pv1("V7", discharged=ts(NOW - timedelta(minutes=5)))).encode()  # fmt: skip
    for message in (fees, moved, gone):
        assert answer(_ack(port, message)) == ("AE", "VISIT_OF_ANOTHER_WORKER", "PV1^1^19")
    with db.connect() as connection:
        lines = connection.exec_driver_sql("SELECT count(*) FROM fee_line").scalar_one()
        settled = connection.exec_driver_sql("SELECT count(*) FROM settlement").scalar_one()
    assert (lines, settled) == (0, 0)
    assert _stays(db) == [("V7", "P001", "骨科病区")]
    # his own messages still go through
    own = fees.replace(CHEN["citizen_id"].encode(), WANG["citizen_id"].encode())
    assert answer(_ack(port, own.replace(b"|P2|", b"|P5|")))[0] == "AA"


def test_fees_sent_before_their_admission_are_taken_when_resent_after_it(
    port: int, db: Engine
) -> None:
    """A DFT overtaking its A01 (two HIS queues): refused as it should be, but the AE was
    final, so the interface engine's resend after the A01 got the same AE back from the log
    and the 36.50 was never recorded (only an operator's re-process would)."""
    fees = dft("E1", "V8", drug())
    assert answer(_ack(port, fees))[:2] == ("AE", "VISIT_NOT_FOUND")
    assert answer(_ack(port, a01("E2", "V8", WANG)))[0] == "AA"
    assert answer(_ack(port, fees))[0] == "AA"
    with db.connect() as connection:
        amounts = connection.exec_driver_sql("SELECT amount FROM fee_line").scalars().all()
    assert [str(a) for a in amounts] in (["36.50"], ["36.5"])


def test_VISIT_CANCELLED_n33_an_a01_under_a_cancelled_visit_is_refused_not_answered_admitted(
    port: int, db: Engine
) -> None:
    """The HIS cancels an admission (A11) and admits the worker again under the same visit
    number: the A01 was answered AA, as a resend of the first, while the stay stayed
    cancelled — no admission registered, the fees that followed refused."""
    assert answer(_ack(port, a01("K1", "V10", WANG)))[0] == "AA"
    assert answer(_ack(port, m.adt("A11", "K2", "V10", patient=patient()).encode()))[0] == "AA"
    assert answer(_ack(port, a01("K3", "V10", WANG))) == ("AE", "VISIT_CANCELLED", "PV1^1^19")
    assert _encounter_field(db, "status") == "cancelled"
    # the first A01 sent again (its MSH-10) still gets its first answer
    assert answer(_ack(port, a01("K1", "V10", WANG)))[0] == "AA"


def test_an_a08_after_an_a13_updates_the_stay_back_in_hospital(port: int, db: Engine) -> None:
    """A13 revoked the settlement: the worker is in hospital again and the stay open (fees are
    taken), but the A08 moving them to 康复科 was refused (ENCOUNTER_NOT_ADMITTED)."""
    wang = patient()
    assert answer(_ack(port, a01("R1", "V11", WANG)))[0] == "AA"
    assert answer(_ack(port, dft("R0", "V11", drug())))[0] == "AA"
    a03 = m.adt("A03", "R2", "V11", discharged=ts(NOW - timedelta(minutes=5)), patient=wang)
    ack = _ack(port, a03.encode())
    assert answer(ack)[0] == "AA", ack.first("ERR") and ack.require("ERR").get(8)
    assert answer(_ack(port, m.adt("A13", "R3", "V11", patient=wang).encode()))[0] == "AA"
    assert _encounter_field(db, "status") == "revoked"
    assert answer(_ack(port, a08("R4", "V11", department="康复科")))[0] == "AA"
    assert _stays(db) == [("V11", "P001", "康复科")]


def test_a_citizen_id_with_a_lowercase_check_digit_is_the_same_worker(
    port: int, db: Engine
) -> None:
    """徐强's citizen ID ends in X; a HIS that stores it as typed sends ``…137x``. His filing
    refuses the stay either way (third-party liability), but the lowercase one was refused
    as well as another person's ID (EL_IDENTITY_MATCH, "请核实实名身份")."""

    def reasons(check_digit: str, control_id: str) -> list[str]:
        xu = {"name": "徐强", "citizen_id": "34010219871012137" + check_digit,
              "card_no": "340100M0012"}  # fmt: skip
        ack = _ack(port, a01(control_id, "V12", xu, parts="右小腿"))
        return [err.get(3) for err in ack.all("ERR")]

    upper = reasons("X", "I1")
    assert upper and "EL_IDENTITY_MATCH" not in upper
    assert reasons("x", "I2") == upper
