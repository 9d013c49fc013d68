"""GBK / GB 18030 names over a real MLLP socket. A double-byte character's second byte may be
0x40–0x7E, which holds ``|`` (東 is 96 7C, 億 is 83 7C), ``^`` (區 is 85 5E) and ``\\`` (淺 is
9C 5C): read as single bytes, such a name splits its field in two. Every test sends the message
in GB 18030 and reads the ACK in GB 18030, as the HIS does."""

from __future__ import annotations

import pytest

from tests.integration.hl7.conftest import Running
from tests.integration.hl7.test_flow import parse_ack
from tests.unit.hl7 import messages as m

GB = "GB 18030-2000"
# (MSH-3, MSH-4): 東 and 區 end in "|" and "^" in GBK; 天坛 and 医院 are plain GB 2312
SENDERS = [("東軟HIS", "北京市東城區醫院"), ("天坛HIS", "北京天坛医院")]


def _admit(control_id: str, application: str, facility: str, *, charset: str = GB) -> str:
    return m.message(
        m.msh("A01", control_id, charset=charset, sender=application, facility=facility),
        "EVN|A01|20260301080000",
        m.pid(name="王億"),  # 億 ends in "|" in GBK
        m.pv1("V0001"),
        m.dg1("S61.001", "左手淺表裂傷"),  # 淺 ends in "\" in GBK
        m.zwi(),
    )


@pytest.mark.parametrize(("application", "facility"), SENDERS)
@pytest.mark.parametrize("label", [GB, "GBK"])
def test_a_his_named_in_chinese_is_answered_under_its_own_name(
    running: Running, application: str, facility: str, label: str
) -> None:
    """東軟HIS at 北京市東城區醫院 sent an A01 in GB 18030: the header was cut at the "|" inside
    東, MSH-17 ("NE") was read as the charset and the admission was refused in UTF-8 the HIS
    could not read (AR, "不支持的字符集（MSH-18）：NE") although every byte was valid GB 18030. A
    plain 天坛HIS was admitted but answered as "ÌìÌ³HIS" in MSH-5, which its interface engine
    did not recognise as its own ACK; the message log listed it under that name too."""
    raw = running.client().send(
        _admit("D1", application, facility, charset=label).encode("gb18030")
    )
    ack = parse_ack(raw, "gb18030")
    assert ack.require("MSA").get(1) == "AA", ack.first("ERR") and ack.require("ERR").get(8)
    assert (ack.require("MSA").get(2), ack.msh.get(5), ack.msh.get(6), ack.msh.get(18)) == (
        "D1",
        application,
        facility,
        label,
    )
    stay = running.fake.encounters["V0001"]
    assert (stay.patient_name, stay.diagnoses) == ("王億", ("S61.001 左手淺表裂傷",))
    logged = running.log.search(control_id="D1")[0]
    assert (logged.sender_application, logged.sender_facility, logged.charset) == (
        application,
        facility,
        label,
    )


def test_a_gbk_named_message_sent_again_is_a_resend(running: Running) -> None:
    """The same A01 sent again by the interface engine (new MSH-7): with MSH-7 read from the
    wrong field, the two were told apart as different messages under one MSH-10 (AR 205)."""
    client = running.client()
    first = _admit("D2", *SENDERS[0])
    first_ack = client.send(first.encode("gb18030"))
    assert parse_ack(first_ack, "gb18030").require("MSA").get(1) == "AA"
    resent = first.replace("20260301120000+0800", "20260301121500+0800")
    assert client.send(resent.encode("gb18030")) == first_ack
    assert running.fake.count("admit") == 1


def test_a_gbk_named_message_with_an_error_is_refused_under_its_own_name(
    running: Running,
) -> None:
    """An AR (no visit number) to 東軟HIS names the field and echoes the sender correctly."""
    text = _admit("D3", *SENDERS[0]).replace("|V0001|", "||")
    ack = parse_ack(running.client().send(text.encode("gb18030")), "gb18030")
    assert (ack.require("MSA").get(1), ack.require("MSA").get(2)) == ("AR", "D3")
    assert ack.require("ERR").get(2, 0) == "PV1^1^19"
    assert (ack.msh.get(5), ack.msh.get(6)) == SENDERS[0]
    assert running.fake.encounters == {}
