"""A field longer than its column is refused over HL7 as over REST, naming where it travelled.

Over REST a 101-character department or a 65-character line id is a 422 naming the field. Over
HL7 the same values were taken: on SQLite a 200,000-character PV1-3 was stored whole and
answered AA, and on PostgreSQL (VARCHAR(64)) a long FT1-2 failed at the insert. Each is now an
AR naming the segment and field, with the REST bound, and nothing is written. Real MLLP socket,
real use cases (simulator over HTTP), SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import NOW, WANG, a01, answer, dft, drug, ts
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


def _ack(port: int, message: bytes) -> tuple[str, str, str, str]:
    """(MSA-1, ERR-5 or ERR-3, ERR-2 whole, ERR-8: the message the HIS's integrator reads)."""
    ack = Hl7Message(exchange(port, message))
    code, ours, _ = answer(ack)
    err = ack.first("ERR")
    return code, ours, err.get(2, 0) if err else "", err.get(8) if err else ""


def _count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def test_an_admission_with_a_department_longer_than_rest_allows_is_refused_at_pv1_3(
    port: int, db: Engine
) -> None:
    long = a01("LEN-1", "ZY0701").decode().replace("骨科病区", "骨" * 101).encode()
    code, ours, where, text = _ack(port, long)
    assert (code, ours, where) == ("AR", "HL7_TOO_LONG", "PV1^1^3")
    assert "100" in text and "科室" in text
    assert _count(db, "encounter") == 0
    at_bound = a01("LEN-2", "ZY0701").decode().replace("骨科病区", "骨" * 100).encode()
    assert _ack(port, at_bound)[0] == "AA"


def test_a_fee_line_id_longer_than_rest_allows_is_refused_at_ft1_2_and_nothing_is_kept(
    port: int, db: Engine
) -> None:
    assert _ack(port, a01("LEN-3", "ZY0702"))[0] == "AA"
    code, ours, where, text = _ack(port, dft("LEN-4", "ZY0702", drug("L" * 65), drug("L2")))
    assert (code, ours, where) == ("AR", "HL7_TOO_LONG", "FT1^1^2")
    assert "64" in text
    assert _count(db, "fee_line") == 0
    code, ours, where, _ = _ack(
        port,
        dft("LEN-5", "ZY0702", drug("L3"), m.ft1(
            "L4", code="XN02BEB001", name="布" * 301, quantity="1", price="36.50",
            amount="36.50", when=ts(NOW - timedelta(hours=1)))),
    )  # fmt: skip
    assert (code, ours, where) == ("AR", "HL7_TOO_LONG", "FT1^2^7^1^2")  # FT1 #2, FT1-7.2
    assert _count(db, "fee_line") == 0


def test_a_card_number_longer_than_rest_allows_is_refused_at_zwi_2(port: int, db: Engine) -> None:
    worker = {**WANG, "card_no": "3" * 65}
    code, ours, where, _ = _ack(port, a01("LEN-6", "ZY0703", worker))
    assert (code, ours, where) == ("AR", "HL7_TOO_LONG", "ZWI^1^2")
    assert _count(db, "encounter") == 0
