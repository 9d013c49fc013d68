"""The simulated card-reader bridge keeps the contract of docs/card_reader.md over a real
loopback socket: the adapter's BridgeCardReader reads through it, and a browser's CORS and
private-network preflights are answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from adapter.domain.people import CardStatus
from connectors.cards import BridgeCardReader, NoCardPresent, ReaderUnavailable, card_from_seed
from connectors.cards.bridge import parse_basic
from connectors.cards.bridge_service import SimulatedBridgeService, basic_text
from connectors.upstream.simulator import demo_seed

TODAY = date(2026, 11, 24)
PAGE = "http://127.0.0.1:8000"
CARDS = {p["psn_no"]: card_from_seed(p) for p in demo_seed(TODAY)["people"]}


@pytest.fixture
def bridge() -> Iterator[SimulatedBridgeService]:
    with SimulatedBridgeService(cards=CARDS, allowed_origins=[PAGE]) as service:
        yield service


def test_the_bridge_reader_reads_the_card_presented_to_the_simulated_service(
    bridge: SimulatedBridgeService,
) -> None:
    reply = httpx.put(f"{bridge.url}/sim/card", json={"psn_no": "P001"})
    assert reply.status_code == 200
    with BridgeCardReader(bridge.url, today=TODAY) as reader:
        card = reader.read()
    expected = CARDS["P001"]
    assert (card.card_no, card.citizen_id, card.name) == (
        expected.card_no,
        expected.citizen_id,
        expected.name,
    )
    assert card.issuing_region == expected.issuing_region
    assert card.status is CardStatus.NORMAL


def test_the_iReadCardBas_text_has_eleven_fields_and_parses_back() -> None:
    card = CARDS["P003"]
    text = basic_text(card)
    assert text.count("|") == 11 and text.endswith("|")
    back = parse_basic(text, today=TODAY)
    assert (back.card_no, back.citizen_id, back.name, back.expires_on) == (
        card.card_no,
        card.citizen_id,
        card.name,
        card.expires_on,
    )


def test_no_card_and_an_unplugged_reader_answer_their_ret_codes_in_chinese(
    bridge: SimulatedBridgeService,
) -> None:
    basic = f"{bridge.url}/v1/card/basic"
    body = httpx.get(basic).json()
    assert body["ret"] == 1 and "未检测到社保卡" in body["msg"]
    with BridgeCardReader(bridge.url) as reader, pytest.raises(NoCardPresent):
        reader.read()
    assert httpx.put(f"{bridge.url}/sim/reader", json={"plugged": False}).status_code == 200
    body = httpx.get(basic).json()
    assert body["ret"] == 2 and "读卡器未连接" in body["msg"]
    with BridgeCardReader(bridge.url) as reader, pytest.raises(ReaderUnavailable):
        reader.read()
    assert httpx.put(f"{bridge.url}/sim/card", json={"psn_no": "NOBODY"}).status_code == 404


def test_the_private_network_preflight_is_allowed_for_the_adapters_page(
    bridge: SimulatedBridgeService,
) -> None:
    reply = httpx.options(
        f"{bridge.url}/v1/card/basic",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert reply.status_code == 204
    assert reply.headers["Access-Control-Allow-Origin"] == PAGE
    assert reply.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "GET" in reply.headers["Access-Control-Allow-Methods"]
    plain = httpx.options(
        f"{bridge.url}/v1/card/basic",
        headers={"Origin": PAGE, "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Private-Network" not in plain.headers


def test_a_read_carries_cors_for_the_adapter_and_other_pages_are_refused(
    bridge: SimulatedBridgeService,
) -> None:
    httpx.put(f"{bridge.url}/sim/card", json={"psn_no": "P001"})
    read = httpx.get(f"{bridge.url}/v1/card/basic", headers={"Origin": PAGE})
    assert read.status_code == 200 and read.json()["ret"] == 0
    assert read.headers["Access-Control-Allow-Origin"] == PAGE
    assert read.headers["Cache-Control"] == "no-store"
    elsewhere = "http://evil.example"
    refused = httpx.get(f"{bridge.url}/v1/card/basic", headers={"Origin": elsewhere})
    assert refused.status_code == 403 and "无权读卡" in refused.json()["msg"]
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = httpx.options(
        f"{bridge.url}/v1/card/basic",
        headers={"Origin": elsewhere, "Access-Control-Request-Private-Network": "true"},
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Private-Network" not in preflight.headers


def test_the_simulated_service_listens_on_loopback_only(bridge: SimulatedBridgeService) -> None:
    assert bridge.url.startswith("http://127.0.0.1:")
