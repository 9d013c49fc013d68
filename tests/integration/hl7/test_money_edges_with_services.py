"""The money path's hard cases as a HIS sends them over MLLP, against the real use cases
(simulator over HTTP), on SQLite and PostgreSQL: the fees of a stay whose discharge the HIS
cancelled, fee lines resent after settlement, numbers finer than the store keeps."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import MllpClient
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import NOW, WANG, a01, answer, dft, drug, patient, ts
from tests.unit.hl7 import messages as m


def _ack(port: int, message: bytes) -> Hl7Message:
    client = MllpClient(port, timeout=30)
    try:
        return Hl7Message(client.send(message).decode("utf-8"))
    finally:
        client.close()


def _accepted(port: int, message: bytes) -> None:
    ack = _ack(port, message)
    assert answer(ack)[0] == "AA", ack.first("ERR") and ack.require("ERR").get(8)


def _settlements(db: Engine) -> list[tuple[str, str, str]]:
    """(status, total, fund pay) of every settlement, in settlement order."""
    with db.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT status, total, fund_pay FROM settlement ORDER BY settled_at"
        ).all()
    return [(status, f"{total:.2f}", f"{fund:.2f}") for status, total, fund in rows]


def _discharge(control_id: str, visit: str, minutes_ago: int) -> bytes:
    when = ts(NOW - timedelta(minutes=minutes_ago))
    return m.adt("A03", control_id, visit, discharged=when, patient=patient()).encode()


def test_n33_fees_of_the_days_after_a_cancelled_discharge_are_billed_when_settled_again(
    port: int, db: Engine
) -> None:
    """The HIS cancels a discharge (A13): the settlement is revoked and the worker stays in
    hospital. The next day's fees were refused as outside the stay (FEE_OUTSIDE_STAY: after
    the discharge just cancelled), so the stay could only be settled again without them —
    the fund never paid for those days. They are taken, and billed when the HIS discharges
    the worker again."""
    _accepted(port, a01("C1", "V1", WANG))
    _accepted(port, dft("C2", "V1", drug("L1", when=ts(NOW - timedelta(minutes=90)))))
    _accepted(port, _discharge("C3", "V1", 60))
    assert _settlements(db) == [("settled", "36.50", "36.50")]
    _accepted(port, m.adt("A13", "C4", "V1", patient=patient()).encode())
    later = drug("L2", when=ts(NOW - timedelta(minutes=30)))  # after the cancelled discharge
    _accepted(port, dft("C5", "V1", later))
    _accepted(port, _discharge("C6", "V1", 5))
    assert _settlements(db) == [("revoked", "36.50", "36.50"), ("settled", "73.00", "73.00")]


def test_n33_fee_lines_resent_after_settlement_are_answered_as_recorded(
    port: int, db: Engine
) -> None:
    """The HIS's interface engine resends a DFT^P03 whose ACK it lost (a new MSH-10, the
    same FT1s) after the A03 settled the stay: it was answered AE ENCOUNTER_NOT_OPEN
    ("不能再录入"), and the HIS took the 36.50 the fund paid in the settlement as refused —
    for the worker to pay. The same lines are answered AA, as recorded; another line is
    still refused (N§33, N§47: the settlement is what was uploaded)."""
    _accepted(port, a01("S1", "V2", WANG))
    fees = drug("L1", when=ts(NOW - timedelta(minutes=90)))
    _accepted(port, dft("S2", "V2", fees))
    _accepted(port, _discharge("S3", "V2", 60))
    _accepted(port, dft("S4", "V2", fees))  # the same line, resent
    another = drug("L2", when=ts(NOW - timedelta(minutes=80)))
    assert answer(_ack(port, dft("S5", "V2", fees, another)))[:2] == ("AE", "ENCOUNTER_NOT_OPEN")
    assert _settlements(db) == [("settled", "36.50", "36.50")]
    with db.connect() as connection:
        lines = connection.exec_driver_sql("SELECT line_id FROM fee_line").scalars().all()
    assert lines == ["L1"]


def test_FEE_DECIMAL_PLACES_n33_a_quantity_or_unit_price_finer_than_kept_is_refused_naming_it(
    port: int, db: Engine
) -> None:
    """A third of a box (FT1-10 0.333333) or a tablet at 33.333333 (FT1-12): the store keeps
    four decimals, and the batch failed inside the adapter — AE 207 "适配器内部错误，请联系信息科"
    with no field named. Refused as the HIS can fix it, naming the FT1 field; nothing kept."""
    _accepted(port, a01("P1", "V3", WANG))
    when = ts(NOW - timedelta(minutes=30))
    third = m.ft1("L1", code="XN02BEB001", quantity="0.333333", price="18.25", amount="6.08",
                  when=when)  # fmt: skip
    assert answer(_ack(port, dft("P2", "V3", third))) == ("AE", "FEE_DECIMAL_PLACES", "FT1^1^10")
    tablet = m.ft1("L2", code="XN02BEB001", quantity="3", price="33.333333", amount="100.00",
                   when=when)  # fmt: skip
    assert answer(_ack(port, dft("P3", "V3", tablet))) == ("AE", "FEE_DECIMAL_PLACES", "FT1^1^12")
    with db.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM fee_line").scalar_one() == 0
    # four decimals are kept as sent
    fair = m.ft1("L3", code="XN02BEB001", quantity="3", price="33.3333", amount="100.00",
                 when=when)  # fmt: skip
    _accepted(port, dft("P4", "V3", fair))
