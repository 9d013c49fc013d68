"""The issue-14 edges over HL7, against the real use cases (simulator over HTTP, real queue,
the MLLP listener on a real socket), on SQLite and PostgreSQL: the same rules as REST.

* a fee amount that is not quantity × unit price: AR (HL7_AMOUNT_MISMATCH, the domain's rule);
* an admission or discharge time in the future or too far back, a fee outside the stay: AE
  naming the rule (TIME_IN_FUTURE, TIME_TOO_FAR_BACK, FEE_OUTSIDE_STAY), nothing written;
* a credit refused for its price or amount: AE whose ERR-2 (ERR-1 before v2.5) names the FT1
  and the field, in every version.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import NOW, a01, dft, patient, ts
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


def _discharge(control_id: str, visit: str, discharged: str) -> bytes:
    return m.adt("A03", control_id, visit, discharged=discharged, patient=patient()).encode()


def _answer(port: int, message: bytes) -> tuple[str, str]:
    """(MSA-1, ERR-3.1 or ERR-5) of the ACK."""
    ack = Hl7Message(exchange(port, message))
    err = ack.first("ERR")
    code = (err.get(5) or err.get(3)) if err else ""
    return ack.require("MSA").get(1), code


def _located(port: int, message: bytes) -> tuple[str, str, str]:
    """(MSA-1, our reason code, its location ``segment^sequence^field``) of the ACK's first
    ERR: ERR-3 and ERR-2 from v2.5, ERR-1 (code in its fourth component) before."""
    ack = Hl7Message(exchange(port, message))
    err = ack.require("ERR")
    if ack.msh.get(12) in ("2.5", "2.5.1"):
        code, number = err.get(3), 2
    else:
        code, number = err.get(1, 4), 1
    where = "^".join(err.get(number, component) for component in (1, 2, 3))
    return ack.require("MSA").get(1), code, where


def _count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_n33_admission_times_out_of_window_are_refused_over_hl7(port: int, db: Engine) -> None:
    assert _answer(port, a01("T1", "V1", admitted="99991231000000")) == ("AE", "TIME_IN_FUTURE")
    ahead = ts(NOW + timedelta(days=2))
    assert _answer(port, a01("T2", "V1", admitted=ahead)) == ("AE", "TIME_IN_FUTURE")
    old = ts(NOW - timedelta(days=31))
    assert _answer(port, a01("T3", "V1", admitted=old)) == ("AE", "TIME_TOO_FAR_BACK")
    assert _count(db, "encounter") == 0
    assert _answer(port, a01("T4", "V1", admitted=ts(NOW - timedelta(days=2))))[0] == "AA"


def test_n32_n33_fees_and_discharge_over_hl7_meet_the_rest_rules(port: int, db: Engine) -> None:
    admitted = NOW - timedelta(days=2)
    assert _answer(port, a01("F1", "V2", admitted=ts(admitted)))[0] == "AA"
    forged = m.ft1("L1", code="XN02BEB001", quantity="1", price="0.01", amount="999999.00",
                   when=ts(admitted + timedelta(hours=2)))  # fmt: skip
    assert _answer(port, dft("F2", "V2", forged)) == ("AR", "HL7_AMOUNT_MISMATCH")
    early = m.ft1("L1", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                  when=ts(admitted - timedelta(days=3)))  # fmt: skip
    assert _answer(port, dft("F3", "V2", early)) == ("AE", "FEE_OUTSIDE_STAY")
    assert _count(db, "fee_line") == 0
    fair = m.ft1("L1", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                 when=ts(admitted + timedelta(hours=2)))  # fmt: skip
    assert _answer(port, dft("F4", "V2", fair))[0] == "AA"
    for control_id, when in (("F5", "99991231100000"), ("F6", ts(NOW + timedelta(days=400)))):
        assert _answer(port, _discharge(control_id, "V2", when)) == ("AE", "TIME_IN_FUTURE")
    assert _count(db, "settlement") == 0
    assert _answer(port, _discharge("F7", "V2", ts(NOW - timedelta(minutes=1))))[0] == "AA"
    assert _count(db, "settlement") == 1


def test_FEE_REVERSAL_PRICE_MISMATCH_n32_n33_a_credit_at_another_price_is_refused_over_hl7(
    port: int, db: Engine
) -> None:
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("R1", "V3", admitted=ts(admitted)))[0] == "AA"
    box = m.ft1("L2", code="XN02BEB001", quantity="1", price="36.50", amount="36.50", when=when)
    assert _answer(port, dft("R2", "V3", box))[0] == "AA"
    # the audit's drug: one box charged 36.50, credited at 100.00
    dear = m.ft1("R2", kind="CD", code="XN02BEB001", quantity="-1", price="100.00",
                 amount="-100.00", reverses="L2", when=when)  # fmt: skip
    assert _answer(port, dft("R3", "V3", dear)) == ("AE", "FEE_REVERSAL_PRICE_MISMATCH")
    assert _count(db, "fee_line") == 1
    fair = m.ft1("R2", kind="CD", code="XN02BEB001", quantity="-1", price="36.50",
                 amount="-36.50", reverses="L2", when=when)  # fmt: skip
    assert _answer(port, dft("R4", "V3", fair))[0] == "AA"
    assert _count(db, "fee_line") == 2


def test_FEE_REVERSAL_AMOUNT_MISMATCH_n33_credits_with_price_and_amount_return_exactly_the_charge(
    port: int, db: Engine
) -> None:
    """Three boxes at 33.3333 charged 100.00, credited one by one with FT1-11 and FT1-12 both
    sent, the HIS rounding the first two up: the last returns the 33.32 left, more than a fen
    off 1 × 33.3333, and is taken; one returning 33.33 would take back more than is left and
    is refused naming the amount."""
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("Q1", "V5", admitted=ts(admitted)))[0] == "AA"
    boxes = m.ft1("Q2", code="XN02BEB001", quantity="3", price="33.3333", amount="100.00",
                  when=when)  # fmt: skip
    assert _answer(port, dft("Q2", "V5", boxes))[0] == "AA"
    for number in (1, 2):
        credit = m.ft1(f"Q2-{number}", kind="CD", code="XN02BEB001", quantity="-1",
                       price="33.3333", amount="-33.34", reverses="Q2", when=when)  # fmt: skip
        assert _answer(port, dft(f"Q3-{number}", "V5", credit))[0] == "AA"
    short = m.ft1("Q2-3", kind="CD", code="XN02BEB001", quantity="-1", price="33.3333",
                  amount="-33.33", reverses="Q2", when=when)  # fmt: skip
    assert _answer(port, dft("Q4", "V5", short)) == ("AE", "FEE_REVERSAL_AMOUNT_MISMATCH")
    last = m.ft1("Q2-3", kind="CD", code="XN02BEB001", quantity="-1", price="33.3333",
                 amount="-33.32", reverses="Q2", when=when)  # fmt: skip
    assert _answer(port, dft("Q5", "V5", last))[0] == "AA"
    assert _count(db, "fee_line") == 4


@pytest.mark.parametrize("version", ["2.5", "2.4", "2.3"])
def test_a_refused_credit_names_its_ft1_and_field_in_the_ae(
    port: int, db: Engine, version: str
) -> None:
    """The refused credit is not the batch's first line: ERR-2 points the HIS at the FT1 that
    carries it (FT1-12 for its unit price, FT1-11 for its amount), not at line 1."""
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("E1", "V6", admitted=ts(admitted)))[0] == "AA"
    box = m.ft1("L2", code="XN02BEB001", quantity="1", price="36.50", amount="36.50", when=when)
    boxes = m.ft1("Q2", code="XN02BEB001", quantity="3", price="33.3333", amount="100.00",
                  when=when, set_id=2)  # fmt: skip
    assert _answer(port, dft("E2", "V6", box, boxes))[0] == "AA"

    def charge(line_id: str, set_id: int) -> str:
        return m.ft1(line_id, code="XN02BEB001", quantity="2", price="18.25", amount="36.50",
                     when=when, set_id=set_id)  # fmt: skip

    dear = m.ft1("R2", kind="CD", code="XN02BEB001", quantity="-1", price="100.00",
                 amount="-100.00", reverses="L2", when=when, set_id=3)  # fmt: skip
    batch = dft("E3", "V6", charge("L5", 1), charge("L6", 2), dear, version=version)
    assert _located(port, batch) == ("AE", "FEE_REVERSAL_PRICE_MISMATCH", "FT1^3^12")
    # all three taken back, a fen short of the 100.00 charged
    short = m.ft1("Q2-1", kind="CD", code="XN02BEB001", quantity="-3", price="33.3333",
                  amount="-99.99", reverses="Q2", when=when, set_id=2)  # fmt: skip
    batch = dft("E4", "V6", charge("L7", 1), short, version=version)
    assert _located(port, batch) == ("AE", "FEE_REVERSAL_AMOUNT_MISMATCH", "FT1^2^11")
    assert _count(db, "fee_line") == 2  # each batch refused whole


def test_b29_a_line_marked_zft_n_is_the_workers_not_the_funds_over_hl7(
    port: int, db: Engine
) -> None:
    """伤病分离 over HL7: the ZFT after an FT1 says the line treats another illness, as
    ``work_injury: false`` does over REST; the worker pays it, the fund the rest."""
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("W1", "V7", admitted=ts(admitted)))[0] == "AA"
    injury = m.ft1("W-1", code="XN02BEB001", quantity="1", price="36.50", amount="36.50",
                   when=when, set_id=1)  # fmt: skip
    other = m.ft1("W-2", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                  when=when, set_id=2)  # fmt: skip
    third = m.ft1("W-3", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                  when=when, set_id=3)  # fmt: skip
    batch = dft("W2", "V7", injury, "ZFT|Y", other, "ZFT|N", third)
    assert _answer(port, batch)[0] == "AA"
    with db.connect() as connection:
        flags = dict(connection.exec_driver_sql(
            "SELECT line_id, work_injury FROM fee_line ORDER BY line_id").all())  # fmt: skip
    assert {k: bool(v) for k, v in flags.items()} == {"W-1": True, "W-2": False, "W-3": True}
    assert _answer(port, _discharge("W3", "V7", ts(NOW - timedelta(minutes=1))))[0] == "AA"
    with db.connect() as connection:
        total, fund, personal, non_work_injury = connection.exec_driver_sql(
            "SELECT total, fund_pay, personal_pay, non_work_injury FROM settlement"
        ).one()
    figures = [Decimal(str(v)) for v in (total, fund, personal, non_work_injury)]
    assert figures == [Decimal("73.00"), Decimal("54.75"), Decimal("18.25"), Decimal("18.25")]


def test_a_zft_out_of_place_or_with_another_value_is_refused_naming_it(
    port: int, db: Engine
) -> None:
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("Z1", "V8", admitted=ts(admitted)))[0] == "AA"
    line = m.ft1("Z-1", code="XN02BEB001", quantity="1", price="36.50", amount="36.50",
                 when=when)  # fmt: skip
    unsure = dft("Z2", "V8", line, "ZFT|X")
    assert _located(port, unsure) == ("AR", "103", "ZFT^1^1")  # table value not found
    assert _answer(port, dft("Z3", "V8", line, "ZFT|X")) == ("AR", "HL7_BAD_WORK_INJURY_FLAG")
    before = dft("Z4", "V8", "ZFT|N", line)
    assert _answer(port, before) == ("AR", "HL7_SEGMENT_OUT_OF_PLACE")
    assert _count(db, "fee_line") == 0


def test_FEE_LINE_ID_REUSED_n47_an_ft1_resent_as_another_fee_is_refused_naming_ft1_2(
    port: int, db: Engine
) -> None:
    admitted = NOW - timedelta(days=2)
    when = ts(admitted + timedelta(hours=2))
    assert _answer(port, a01("U1", "V9", admitted=ts(admitted)))[0] == "AA"
    box = m.ft1("U-1", code="XN02BEB001", quantity="1", price="36.50", amount="36.50", when=when)
    assert _answer(port, dft("U2", "V9", box))[0] == "AA"
    cheaper = m.ft1("U-1", code="XN02BEB001", quantity="1", price="18.25", amount="18.25",
                    when=when)  # fmt: skip
    assert _located(port, dft("U3", "V9", cheaper)) == ("AE", "FEE_LINE_ID_REUSED", "FT1^1^2")
    assert _answer(port, dft("U4", "V9", box))[0] == "AA"  # the same fee again: a resend
    assert _count(db, "fee_line") == 1
