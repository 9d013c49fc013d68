"""The e-card reader against the simulator; the bridge reader against a real loopback service."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from adapter.domain.people import CardKind
from adapter.domain.upstream import CertType
from connectors.cards import (
    BridgeCardReader,
    CardLost,
    ElectronicCardReader,
    NoCardPresent,
    ReaderUnavailable,
    TokenExpired,
    TokenInvalid,
)
from connectors.upstream.client import ReferenceClient

from .conftest import TODAY


def test_an_ecard_token_yields_the_workers_card(client: ReferenceClient) -> None:
    card = ElectronicCardReader.for_token(client, "ECQR-P001-DEMO").read()
    assert card.kind is CardKind.ECARD and card.name == "王建国"
    assert card.citizen_id == "310102197803141310" and card.qr_token == "ECQR-P001-DEMO"
    assert card.expires_on is not None and card.expires_on >= TODAY


def test_expired_forged_and_empty_tokens_are_distinct_errors(client: ReferenceClient) -> None:
    with pytest.raises(TokenExpired, match="刷新"):
        ElectronicCardReader.for_token(client, "ECQR-P010-OLD").read()
    with pytest.raises(TokenInvalid, match="无效"):
        ElectronicCardReader.for_token(client, "ECQR-FORGED").read()
    with pytest.raises(TokenInvalid, match="未扫描"):
        ElectronicCardReader.for_token(client, "  ").read()


def test_an_ecard_of_a_card_reported_lost_is_refused(client: ReferenceClient, sim) -> None:
    sim.state.seed({"people": [{**sim.state.find("people", psn_no="P013")[0],
                                "ecard_token": "ECQR-P013"}]})  # fmt: skip
    with pytest.raises(CardLost, match="挂失"):
        ElectronicCardReader.for_token(client, "ECQR-P013").read()


class _Bridge(BaseHTTPRequestHandler):
    reply: ClassVar[dict] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.reply, ensure_ascii=False).encode()
        self.send_response(200 if self.path == "/v1/card/basic" else 404)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def bridge_service() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bridge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_card_read_through_the_bridge_is_known_upstream(
    bridge_service: ThreadingHTTPServer, client: ReferenceClient
) -> None:
    _Bridge.reply = {"ret": 0, "out": "140100|140102199303031593|140100N0013|140100D15600000013|"
                     "马超|3B6D00|2.00|20210601|20310601|T01|D01|"}  # fmt: skip
    port = bridge_service.server_address[1]
    with BridgeCardReader(f"http://127.0.0.1:{port}") as reader:
        card = reader.read()
    record = client.query_person(CertType.SOCIAL_SECURITY_CARD, card.card_no, card_sn=card.card_sn)
    assert record.person.citizen_id == card.citizen_id
    assert record.person.card_status.value == "lost", "only upstream knows it was reported lost"
    _Bridge.reply = {"ret": 1, "msg": "无卡"}
    with BridgeCardReader(f"http://127.0.0.1:{port}") as reader, pytest.raises(NoCardPresent):
        reader.read()


def test_a_bridge_that_is_not_running(bridge_service: ThreadingHTTPServer) -> None:
    port = bridge_service.server_address[1]
    bridge_service.shutdown()
    bridge_service.server_close()
    with (
        BridgeCardReader(f"http://127.0.0.1:{port}") as reader,
        pytest.raises(ReaderUnavailable, match="读卡服务未启动"),
    ):
        reader.read()
