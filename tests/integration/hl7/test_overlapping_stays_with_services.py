"""One worker, one stay at a time (N§33, N§38, B§27), over a real MLLP socket against the real
use cases: an A01 registering a settled stay again under a new visit number, and an A03 whose
stay runs across a settled one — settling it, or, where the billing desk settles, putting it
on the ready list — are answered AE naming PV1-44 or PV1-45 and the settled stay."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine, text

from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import (
    HL7_PROFILE,
    a01,
    answer,
    dft,
    drug,
    listening,
    patient,
    ts,
)
from tests.integration.services.helpers import local
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


def _ack(port: int, message: bytes) -> Hl7Message:
    return Hl7Message(exchange(port, message))


def _a03(control_id: str, visit: str, discharged: str) -> bytes:
    return m.adt("A03", control_id, visit, discharged=discharged, patient=patient()).encode()


def _settled_v1(port: int) -> None:
    """王建国 admitted five days ago as V1, one fee line, discharged (and settled) yesterday."""
    assert answer(_ack(port, a01("S1", "V1", admitted=ts(local(-5)))))[0] == "AA"
    assert answer(_ack(port, dft("S2", "V1", drug(when=ts(local(-4, 10))))))[0] == "AA"
    assert answer(_ack(port, _a03("S3", "V1", ts(local(-1)))))[0] == "AA"


def _stays(db: Engine) -> list[tuple[str, str, bool]]:
    with db.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT his_visit_id, status, ready_to_settle FROM encounter ORDER BY his_visit_id"
        ).all()
    return [(str(v), str(s), bool(r)) for v, s, r in rows]


def test_STAY_OVERLAPS_an_a01_inside_a_settled_stay_is_ae_naming_pv1_44(
    port: int, db: Engine
) -> None:
    _settled_v1(port)
    ack = _ack(port, a01("S4", "V1-NEW", admitted=ts(local(-3))))
    assert answer(ack) == ("AE", "STAY_OVERLAPS", "PV1^1^44")
    text = ack.require("ERR").get(8)
    assert "HIS住院号V1" in text and "已结算" in text and "请核对入院" in text
    assert _stays(db) == [("V1", "settled", False)]


def test_STAY_OVERLAPS_an_a03_settling_across_a_settled_stay_is_ae_naming_pv1_45(
    port: int, db: Engine
) -> None:
    _settled_v1(port)
    assert answer(_ack(port, a01("S5", "V0", admitted=ts(local(-7)))))[0] == "AA"
    assert answer(_ack(port, dft("S6", "V0", drug(when=ts(local(-6, 10))))))[0] == "AA"
    ack = _ack(port, _a03("S7", "V0", ts(local(0, 8))))
    assert answer(ack) == ("AE", "STAY_OVERLAPS", "PV1^1^45")
    assert "HIS住院号V1" in ack.require("ERR").get(8)
    assert _stays(db) == [("V0", "admitted", False), ("V1", "settled", False)]


def test_STAY_OVERLAPS_an_a03_where_the_desk_settles_is_ae_not_put_on_the_ready_list(
    db: Engine, services: Services
) -> None:
    """A site that settles at the billing desk (discharge_settles = false): the A03 would put
    a stay on the clerk's list that could never be settled; the HIS hears it now."""
    with listening(db, services.commands, replace(HL7_PROFILE, discharge_settles=False)) as port:
        assert answer(_ack(port, a01("R1", "V1", admitted=ts(local(-5)))))[0] == "AA"
        assert answer(_ack(port, dft("R2", "V1", drug(when=ts(local(-4, 10))))))[0] == "AA"
        assert answer(_ack(port, _a03("R3", "V1", ts(local(-1)))))[0] == "AA"
    assert _stays(db) == [("V1", "admitted", True)]
    services.settlements.settle(SettleRequest(_id(db, "V1"), local(-1)), actor="billing01")
    with listening(db, services.commands, replace(HL7_PROFILE, discharge_settles=False)) as port:
        assert answer(_ack(port, a01("R4", "V0", admitted=ts(local(-7)))))[0] == "AA"
        ack = _ack(port, _a03("R5", "V0", ts(local(0, 8))))
    assert answer(ack) == ("AE", "STAY_OVERLAPS", "PV1^1^45")
    assert _stays(db) == [("V0", "admitted", False), ("V1", "settled", False)]


def _id(db: Engine, visit: str) -> str:
    with db.connect() as connection:
        query = text("SELECT id FROM encounter WHERE his_visit_id = :visit")
        return str(connection.execute(query, {"visit": visit}).scalar_one())
