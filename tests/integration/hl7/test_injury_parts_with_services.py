"""The injured parts an HL7 admission carries (ZWI-4) are checked as the desk's and REST's
are (N§16, 附表1): an A01 naming none is refused with the article and the filed parts, over a
real MLLP socket against the real use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from connectors.upstream.simulator import SimulatorServer
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import NOW, WANG, a01, a08, answer, ts
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


def _visits(db: Engine) -> list[str]:
    with db.connect() as connection:
        rows = connection.exec_driver_sql("SELECT his_visit_id FROM encounter").all()
    return sorted(str(row[0]) for row in rows)


def test_EL_INJURY_PARTS_NAMED_an_a01_with_an_empty_zwi_4_is_refused_naming_it(
    port: int, db: Engine
) -> None:
    """Before, an A01 whose ZWI-4 was empty admitted the worker for direct settlement with no
    injured part: nothing checked against the filing (N§16)."""
    ack = Hl7Message(exchange(port, a01("P1", "ZY-P1", parts="")))
    assert answer(ack) == ("AE", "EL_INJURY_PARTS_NAMED", "ZWI^1^4")
    text = ack.require("ERR").get(8)
    assert "受伤部位" in text and "左手" in text
    assert _visits(db) == []
    assert answer(Hl7Message(exchange(port, a01("P2", "ZY-P1", parts="左手"))))[0] == "AA"
    assert _visits(db) == ["ZY-P1"]


def test_EL_INJURY_PARTS_FILED_several_parts_in_one_zwi_4_repetition_are_read_as_the_desk_does(
    port: int, db: Engine
) -> None:
    """The HIS types the parts in one field, "左手、右前臂", as the desk's typed-parts field
    takes them: both are filed (王建国: 左手, 右前臂). Before, the A01 was refused as
    "左手、右前臂" not being a filed part."""
    ack = Hl7Message(exchange(port, a01("P3", "ZY-P3", parts="左手、右前臂")))
    assert answer(ack)[0] == "AA", ack
    with db.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT injury_parts FROM encounter WHERE his_visit_id = 'ZY-P3'"
        ).scalar_one()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == ["左手", "右前臂"]


def _stay(db: Engine, visit: str) -> tuple[list[str], str]:
    """The stay's injured parts and department as stored."""
    with db.connect() as connection:
        parts, department = connection.exec_driver_sql(
            "SELECT injury_parts, department FROM encounter WHERE his_visit_id = ?"
            if db.dialect.name == "sqlite"
            else "SELECT injury_parts, department FROM encounter WHERE his_visit_id = %s",
            (visit,),
        ).one()
    return (json.loads(parts) if isinstance(parts, str) else list(parts)), str(department)


def test_EL_INJURY_PARTS_NAMED_an_a08_clearing_zwi_4_is_refused_whole(
    port: int, db: Engine
) -> None:
    """Before, an A08 with ZWI-4 sent as HL7's null ``""`` struck the stay's parts off and was
    answered AA: the stay then settled directly with no injured part checked against the
    filing (N§16, N§33). Now the whole A08 is refused — its department change too, and the
    text says the update named no part, not that the admission did (it named 左手)."""
    assert answer(Hl7Message(exchange(port, a01("U1", "ZY-U1"))))[0] == "AA"
    cleared = a08("U2", "ZY-U1", m.zwi(card_no=WANG["card_no"], parts='""'), department="康复科")
    ack = Hl7Message(exchange(port, cleared))
    assert answer(ack) == ("AE", "EL_INJURY_PARTS_NAMED", "ZWI^1^4")
    text = ack.require("ERR").get(8)
    assert "左手、右前臂" in text
    assert text.startswith("本次就诊信息修改未填写本次治疗的受伤部位") and "入院登记" not in text
    assert _stay(db, "ZY-U1") == (["左手"], "骨科病区")


def test_EL_INJURY_PARTS_FILED_an_a08_naming_an_unfiled_part_is_refused_and_filed_ones_kept(
    port: int, db: Engine
) -> None:
    """Before, an A08 could put any part on the stay (右膝, not on 王建国's filing 左手、右前臂):
    answered AA, and the stay settled with it (N§16, 附表1). Now it is checked as at admission,
    with the same reading: 左手部 and 右前臂 are the filed 左手 and 右前臂."""
    assert answer(Hl7Message(exchange(port, a01("U3", "ZY-U3"))))[0] == "AA"
    unfiled = a08("U4", "ZY-U3", m.zwi(card_no=WANG["card_no"], parts="左手~右膝"))
    ack = Hl7Message(exchange(port, unfiled))
    assert answer(ack) == ("AE", "EL_INJURY_PARTS_FILED", "ZWI^1^4")
    assert "右膝" in ack.require("ERR").get(8)
    assert _stay(db, "ZY-U3")[0] == ["左手"]
    filed = a08("U5", "ZY-U3", m.zwi(card_no=WANG["card_no"], parts="左手部、右前臂"))
    assert answer(Hl7Message(exchange(port, filed)))[0] == "AA"
    assert _stay(db, "ZY-U3")[0] == ["左手", "右前臂"]


def test_an_a08_that_does_not_send_zwi_4_leaves_the_parts_as_they_are(
    port: int, db: Engine
) -> None:
    assert answer(Hl7Message(exchange(port, a01("U6", "ZY-U6", parts="左手、右前臂"))))[0] == "AA"
    no_field = a08("U7", "ZY-U6", m.zwi(card_no=WANG["card_no"], parts=""), department="手外科")
    assert answer(Hl7Message(exchange(port, no_field)))[0] == "AA"
    assert (
        answer(Hl7Message(exchange(port, a08("U8", "ZY-U6", department="手外科二病区"))))[0] == "AA"
    )
    assert _stay(db, "ZY-U6") == (["左手", "右前臂"], "手外科二病区")


ZHAO = {"name": "赵立", "citizen_id": "310102198002021317", "card_no": "310100A9101"}


def _filed_without_parts(sim: SimulatorServer) -> None:
    """赵立's filing, approved with no injured part listed (upstream's gap, not the worker's)."""
    day = lambda days: (date.today() + timedelta(days=days)).isoformat()  # noqa: E731
    body = {
        "people": [
            {"psn_no": "P9101", "certno": ZHAO["citizen_id"], "psn_name": ZHAO["name"],
             "gend": "1", "brdy": "1980-02-02", "insuplc_admdvs": "340100",
             "card_no": ZHAO["card_no"], "card_status": "normal"}
        ],
        "filings": [
            {"filing_no": "BA9101", "psn_no": "P9101", "category": "long_term_residence",
             "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
             "injury_parts": [], "insuplc_admdvs": "340100", "begndate": day(-30),
             "enddate": day(300), "filed_on": day(-31)}
        ],
    }  # fmt: skip
    assert httpx.post(f"{sim.url}/_sim/seed", json=body).status_code == 200


def test_EL_INJURY_PARTS_UNCHECKED_an_a08_to_a_stay_filed_without_parts_warns_again(
    port: int, db: Engine, sim: SimulatorServer
) -> None:
    """The A01 was answered AA with the warning that nothing could be checked; an A08 moving
    the stay to 右膝 was answered a bare AA, so the ward never heard that this part was not
    checked either (N§16, 附表1). It is applied, with the same warning naming 右膝."""
    _filed_without_parts(sim)
    admitted = Hl7Message(exchange(port, a01("Z1", "ZY-Z1", ZHAO, parts="左手")))
    assert answer(admitted)[:2] == ("AA", "EL_INJURY_PARTS_UNCHECKED")
    update = m.message(
        m.msh("A08", "Z2"),
        "EVN|A08|" + ts(NOW),
        m.pid(name=ZHAO["name"], citizen_id=ZHAO["citizen_id"]),
        m.pv1("ZY-Z1", admitted=ts(NOW - timedelta(hours=3)), department="骨科病区"),
        m.zwi(card_no=ZHAO["card_no"], parts="右膝"),
    ).encode()
    ack = Hl7Message(exchange(port, update))
    assert answer(ack)[:2] == ("AA", "EL_INJURY_PARTS_UNCHECKED")
    warning = ack.require("ERR")
    assert warning.get(4) == "W" and "右膝" in warning.get(8)
    assert _stay(db, "ZY-Z1")[0] == ["右膝"]


def test_EL_INJURY_PARTS_FILING_ABSENT_an_a08_to_a_stay_whose_filing_is_gone_locally_warns(
    port: int, db: Engine
) -> None:
    """The stay's filing missing from the local store (a partial restore): an A08 naming 右膝
    was answered a bare AA and the part taken unchecked, nobody told (N§16, 附表1). It is still
    applied — the adapter's own gap must not stop the ward — with a warning naming the filing
    and the part."""
    assert answer(Hl7Message(exchange(port, a01("F1", "ZY-F1"))))[0] == "AA"
    with db.begin() as connection:
        filing_no = connection.exec_driver_sql(
            "SELECT filing_no FROM encounter WHERE his_visit_id = 'ZY-F1'"
        ).scalar_one()
        connection.exec_driver_sql("DELETE FROM filing_device")
        connection.exec_driver_sql("DELETE FROM filing")
    moved = a08("F2", "ZY-F1", m.zwi(card_no=WANG["card_no"], parts="右膝"))
    ack = Hl7Message(exchange(port, moved))
    assert answer(ack)[:2] == ("AA", "EL_INJURY_PARTS_FILING_ABSENT")
    warning = ack.require("ERR")
    assert warning.get(4) == "W"
    assert "右膝" in warning.get(8) and str(filing_no) in warning.get(8)
    assert _stay(db, "ZY-F1")[0] == ["右膝"]
