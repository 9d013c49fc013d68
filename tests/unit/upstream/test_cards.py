"""Card readers: the bridge's iReadCardBas parsing and every reader failure, told apart."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from adapter.domain.people import CardKind, CardStatus, Gender
from adapter.domain.ports import CardReader
from connectors.cards import (
    BridgeCardReader,
    CardUnreadable,
    NoCardPresent,
    ReaderUnavailable,
    SimulatedCardReader,
    card_from_seed,
    parse_basic,
)

BASIC = (
    "310100|310102197803141310|310100A0001|310100D15600000001|王建国|"
    "0081E0B4F2D3|2.00|20200315|20300315|T0001|DEV01|"
)


def bridge(handler) -> BridgeCardReader:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return BridgeCardReader("http://127.0.0.1:9527", http=http, today=date(2026, 11, 24))


def test_ireadcardbas_fields_become_card_data() -> None:
    card = parse_basic(BASIC, today=date(2026, 11, 24))
    assert card.kind is CardKind.PHYSICAL
    assert (card.issuing_region, card.citizen_id, card.card_no) == (
        "310100", "310102197803141310", "310100A0001"
    )  # fmt: skip
    assert (card.card_sn, card.name, card.gender) == ("310100D15600000001", "王建国", Gender.MALE)
    assert card.expires_on == date(2030, 3, 15) and card.status is CardStatus.NORMAL


def test_a_card_past_its_expiry_date_reads_as_expired() -> None:
    card = parse_basic(BASIC, today=date(2030, 3, 16))
    assert card.status is CardStatus.EXPIRED


@pytest.mark.parametrize(
    "text",
    ["310100|310102197803141310|310100A0001", "310100||310100A0001|SN|王建国|r|2|1|2|t|d|",
     BASIC.replace("20300315", "2030-3-15")],
    ids=["too-few-fields", "no-citizen-id", "bad-date"],
)  # fmt: skip
def test_garbled_reader_output_is_unreadable(text: str) -> None:
    with pytest.raises(CardUnreadable):
        parse_basic(text)


def test_the_bridge_reads_a_card() -> None:
    reader: CardReader = bridge(lambda request: httpx.Response(200, json={"ret": 0, "out": BASIC}))
    assert reader.read().name == "王建国"


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        ({"ret": 1, "msg": "无卡"}, NoCardPresent, "未检测到社保卡"),
        ({"ret": 2, "msg": "设备未连接"}, ReaderUnavailable, "读卡器未连接"),
        ({"ret": -13, "msg": "PSAM卡认证失败"}, CardUnreadable, "PSAM卡认证失败"),
        ({"oops": True}, CardUnreadable, "无法识别"),
    ],
)
def test_each_bridge_failure_is_its_own_error(reply: dict, error: type, words: str) -> None:
    reader = bridge(lambda request: httpx.Response(200, json=reply))
    with pytest.raises(error, match=words) as caught:
        reader.read()
    assert caught.value.code != "CARD_ERROR"


def test_a_bridge_service_that_is_not_running_says_so() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ReaderUnavailable, match="读卡服务未启动"):
        bridge(refused).read()


def test_the_bridge_must_be_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        BridgeCardReader("http://192.168.1.20:9527")
    BridgeCardReader("http://localhost:9527")


def test_the_simulated_reader_presents_removes_and_unplugs() -> None:
    seed = {"card_no": "140100N0013", "certno": "140102199303031593", "psn_name": "马超",
            "gend": "1", "insuplc_admdvs": "140100", "card_status": "lost"}  # fmt: skip
    reader = SimulatedCardReader()
    with pytest.raises(NoCardPresent):
        reader.read()
    reader.present(card_from_seed(seed))
    assert reader.read().status is CardStatus.LOST
    reader.unplug()
    with pytest.raises(ReaderUnavailable):
        reader.read()
    reader.plug_in()
    reader.remove()
    with pytest.raises(NoCardPresent):
        reader.read()
