"""An emergency or outpatient patient admitted to a ward, as many Chinese HIS systems send it:
ADT^A06 (change an outpatient to an inpatient) instead of an A01, PV1 carrying the new
inpatient visit and MRG the prior outpatient one. Over a real MLLP socket against the real use
cases (simulator over HTTP), on SQLite and PostgreSQL: the A06 admits as an A01 does, and an
ADT^A07 (back to outpatient) is refused saying to send ADT^A11 instead.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import NOW, WANG, a01, answer, ts
from tests.integration.services.support import jobs
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m

# the simulator's worker with no filing at all (demo_seed P014)
ZHU = {"name": "朱红", "citizen_id": "120102198612202829", "card_no": "120100P0014"}


def _a06(control_id: str, visit: str, worker: dict[str, str] = WANG, *,
         patient_class: str = "I", version: str = "2.5") -> bytes:  # fmt: skip
    """``worker`` moved from the emergency room (outpatient visit MZ0001) to a ward under the
    inpatient visit ``visit``, admitted three hours ago; MRG names the outpatient visit."""
    ward = m.pv1(visit, admitted=ts(NOW - timedelta(hours=3)))
    if patient_class != "I":
        ward = ward.replace("PV1|1|I|", f"PV1|1|{patient_class}|", 1)
    return m.message(
        m.msh("A06", control_id, version=version),
        "EVN|A06|" + ts(NOW),
        m.pid(name=worker["name"], citizen_id=worker["citizen_id"]),
        m.seg("MRG", {1: "P0001^^^^PI", 5: "MZ0001"}),
        ward,
        m.dg1("S62.301", "左手第三掌骨骨折"),
        m.zwi(card_no=worker["card_no"], parts="左手"),
    ).encode()


def _ack(port: int, message: bytes) -> Hl7Message:
    return Hl7Message(exchange(port, message))


def _stays(db: Engine) -> list[tuple[str, str, str]]:
    with db.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT his_visit_id, psn_no, status FROM encounter ORDER BY his_visit_id"
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]  # rows of three text columns


def test_n33_an_a06_admits_a_filed_worker_under_the_inpatient_visit(port: int, db: Engine) -> None:
    """The HIS admitted 王建国 from the emergency room with an A06: it was answered AR
    (unsupported event) and the stay never registered for direct settlement. Now it is an
    admission under PV1-19, the outpatient visit of MRG-5 left alone, and a resend (a new
    MSH-10, or the same one) admits nobody twice."""
    ack = _ack(port, _a06("S1", "ZY0601"))
    assert answer(ack) == ("AA", "", "")
    assert ack.msh.get(9, 2) == "A06"
    assert _stays(db) == [("ZY0601", "P001", "admitted")]
    queued = len(jobs(db))
    assert queued >= 1  # the admission registration goes upstream, as for an A01
    assert answer(_ack(port, _a06("S2", "ZY0601")))[0] == "AA"  # resent under a new MSH-10
    assert answer(_ack(port, _a06("S1", "ZY0601")))[0] == "AA"  # the same message again
    assert _stays(db) == [("ZY0601", "P001", "admitted")]
    assert len(jobs(db)) == queued
    # the HIS that sends an A01 as well for the same stay: the same admission, not a second
    assert answer(_ack(port, a01("S3", "ZY0601")))[0] == "AA"
    assert _stays(db) == [("ZY0601", "P001", "admitted")]
    assert len(jobs(db)) == queued
    # the resend from a v2.3 interface engine (MSH-9 without its structure): still one stay
    ack = _ack(port, _a06("S4", "ZY0601", version="2.3"))
    assert (answer(ack)[0], ack.msh.get(9, 2)) == ("AA", "A06")
    assert _stays(db) == [("ZY0601", "P001", "admitted")]


def test_n16_an_a06_for_an_unfiled_worker_gets_the_filing_refusal_an_a01_gets(
    port: int, db: Engine
) -> None:
    """No filing, no direct settlement (N§16): the A06 is refused with the A01's AE — its
    reason code and its Chinese message telling the worker where to file — nothing admitted."""
    by_a06 = _ack(port, _a06("U1", "ZY0602", ZHU))
    by_a01 = _ack(port, a01("U2", "ZY0603", ZHU))
    assert answer(by_a06)[:2] == answer(by_a01)[:2] == ("AE", "EL_FILING_EXISTS")
    assert by_a06.require("ERR").get(8) == by_a01.require("ERR").get(8)
    assert _stays(db) == []


def test_an_a06_to_another_class_than_inpatient_is_refused_naming_pv1_2(
    port: int, db: Engine
) -> None:
    for control_id, patient_class in (("C1", "O"), ("C2", "E"), ("C3", "")):
        ack = _ack(port, _a06(control_id, "ZY0604", patient_class=patient_class))
        assert answer(ack) == ("AR", "HL7_BAD_PATIENT_CLASS", "PV1^1^2"), patient_class
        assert "PV1-2" in ack.require("ERR").get(8)
    assert _stays(db) == []


def test_HL7_NOT_DIRECT_SETTLEMENT_n3_an_a07_back_to_outpatient_says_to_send_an_a11(
    port: int, db: Engine
) -> None:
    """ADT^A07 (an inpatient back to outpatient) was a bare '不支持的事件': an outpatient visit
    is not direct settlement (N§3), so the AR says to cancel the admission with ADT^A11, and
    the stay is left as it was until the A11 comes."""
    assert answer(_ack(port, _a06("O1", "ZY0605")))[0] == "AA"
    back = m.adt("A07", "O2", "ZY0605", patient=m.pid(name=WANG["name"],
                 citizen_id=WANG["citizen_id"])).encode()  # fmt: skip
    ack = _ack(port, back)
    assert answer(ack) == ("AR", "HL7_NOT_DIRECT_SETTLEMENT", "MSH^1^9")
    assert ack.require("ERR").get(3, 1) == "201"
    text = ack.require("ERR").get(8)
    assert all(part in text for part in ("ADT^A07", "N§3", "ADT^A11")), text
    assert _stays(db) == [("ZY0605", "P001", "admitted")]
    cancel = m.adt("A11", "O3", "ZY0605", patient=m.pid(name=WANG["name"],
                   citizen_id=WANG["citizen_id"])).encode()  # fmt: skip
    assert answer(_ack(port, cancel))[0] == "AA"
    assert _stays(db) == [("ZY0605", "P001", "cancelled")]
