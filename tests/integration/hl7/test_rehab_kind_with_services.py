"""A stay's kind — medical (住院工伤医疗) or rehab (住院工伤康复) — is fixed at admission by the
filing it was admitted on (附表1 就医/康复人员, N§4, N§33): an A08 that says otherwise is
refused, over a real MLLP socket against the real use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.with_services import *  # noqa: F403 - the listener, the use cases
from tests.integration.hl7.with_services import WANG, a01, a08, answer
from tests.support.mllp import exchange
from tests.unit.hl7 import messages as m


def _kind(db: Engine, visit: str) -> str:
    with db.connect() as connection:
        return str(
            connection.exec_driver_sql(
                f"SELECT kind FROM encounter WHERE his_visit_id = '{visit}'"
            ).scalar_one()
        )


def test_STAY_KIND_FIXED_an_a08_turning_a_medical_stay_into_rehab_is_refused(
    port: int, db: Engine
) -> None:
    """王建国 is filed for medical treatment only (就医). Before, an A08 whose ZWI-5 said rehab
    was answered AA and changed nothing: the HIS took the stay for rehab, and its rehab phase
    was settled directly as medical treatment, on a filing for medical treatment, with no
    rehab plan uploaded (N§33, B§32). Now the A08 is refused, naming ZWI-5 and what to do."""
    assert answer(Hl7Message(exchange(port, a01("K1", "ZY-K1"))))[0] == "AA"
    switched = a08("K2", "ZY-K1", m.zwi(card_no=WANG["card_no"], parts="左手", encounter="rehab"))
    ack = Hl7Message(exchange(port, switched))
    assert answer(ack) == ("AE", "STAY_KIND_FIXED", "ZWI^1^5")
    text = ack.require("ERR").get(8)
    assert "住院工伤医疗" in text and "康复备案" in text and "重新" in text
    assert _kind(db, "ZY-K1") == "medical"
    same = a08("K3", "ZY-K1", m.zwi(card_no=WANG["card_no"], parts="左手", encounter="medical"))
    assert answer(Hl7Message(exchange(port, same)))[0] == "AA"
    unsaid = a08("K4", "ZY-K1", m.zwi(card_no=WANG["card_no"], parts="左手", encounter=""))
    assert answer(Hl7Message(exchange(port, unsaid)))[0] == "AA"
