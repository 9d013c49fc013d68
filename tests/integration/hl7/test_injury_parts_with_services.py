"""The injured parts an HL7 admission carries (ZWI-4) are checked as the desk's and REST's
are (N§16, 附表1): an A01 naming none is refused with the article and the filed parts, over a
real MLLP socket against the real use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import a01, answer
from tests.support.mllp import exchange


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
