"""A simulated card-reader bridge service: the workstation side of docs/card_reader.md.

A real bridge is a vendor's small service on the clerk's PC that wraps the reader's driver
(``iReadCardBas``); this one wraps a :class:`~connectors.cards.simulated.SimulatedCardReader`
so that the demo and the browser tests read cards the way a desk does — from the page, over
loopback HTTP, with the CORS and private-network headers a browser requires::

    GET     /v1/card/basic   {"ret": 0, "out": "<iReadCardBas text>"} or {"ret": 1|2|3, "msg"}
    OPTIONS /v1/card/basic   the CORS preflight; answers Access-Control-Allow-Private-Network
                             when the browser asks (Access-Control-Request-Private-Network)

Simulator-only controls (no real bridge has them), for the demo and the tests::

    PUT    /sim/card   {"psn_no": "P001"}   present that seeded worker's card
    DELETE /sim/card                        take the card out
    PUT    /sim/reader {"plugged": false}   unplug (or plug in) the reader

It binds to loopback only. ``allowed_origins`` are the pages that may read cards (the
adapter's own address); an empty list allows any origin (tests only).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from adapter.domain.people import CardData
from connectors.cards.errors import CardError, NoCardPresent, ReaderUnavailable
from connectors.cards.simulated import SimulatedCardReader

BASIC_PATH = "/v1/card/basic"
RET_OK, RET_NO_CARD, RET_READER, RET_UNREADABLE = 0, 1, 2, 3
RESET_INFO = "3B6D000080318065B0872701BC83089000"  # a typical card's ATR
SPEC_VERSION = "3.00"


def basic_text(card: CardData) -> str:
    """The card as ``iReadCardBas`` prints it: eleven ``|``-separated fields, trailing ``|``."""
    expires = card.expires_on.strftime("%Y%m%d") if card.expires_on else ""
    fields = [
        card.issuing_region,
        card.citizen_id,
        card.card_no,
        card.card_sn,
        card.name,
        RESET_INFO,
        SPEC_VERSION,
        "",  # 发卡日期: not kept by the simulator
        expires,
        "",  # 终端机编号
        "",  # 终端设备号
    ]
    return "|".join(fields) + "|"


def _ret_of(error: CardError) -> int:
    if isinstance(error, NoCardPresent):
        return RET_NO_CARD
    if isinstance(error, ReaderUnavailable):
        return RET_READER
    return RET_UNREADABLE


class SimulatedBridgeService:
    """The bridge contract over a simulated reader, served on ``127.0.0.1`` in a thread."""

    def __init__(
        self,
        reader: SimulatedCardReader | None = None,
        *,
        cards: Mapping[str, CardData] | None = None,
        allowed_origins: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self.reader = reader or SimulatedCardReader()
        self.cards = dict(cards or {})  # psn_no → card, for PUT /sim/card
        self.allowed_origins = {o.rstrip("/") for o in allowed_origins}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SimulatedBridgeService:
        if self._thread is not None:
            return self  # already serving
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="card-bridge", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatedBridgeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def allows(self, origin: str) -> bool:
        return not self.allowed_origins or origin.rstrip("/") in self.allowed_origins

    def read_basic(self) -> dict[str, Any]:
        try:
            card = self.reader.read()
        except CardError as exc:
            return {"ret": _ret_of(exc), "msg": exc.message}
        return {"ret": RET_OK, "out": basic_text(card)}


def _handler_for(service: SimulatedBridgeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SimulatedCardBridge/1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a card read is not worth a line on the console."""

        def _cors(self) -> list[tuple[str, str]]:
            origin = self.headers.get("Origin", "")
            if not origin or not service.allows(origin):
                return []
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]

        def _send(
            self,
            status: int,
            body: dict[str, Any] | None,
            extra: Iterable[tuple[str, str]] = (),
        ) -> None:
            data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
            self.send_response(status)
            for name, value in [*self._cors(), *extra]:
                self.send_header(name, value)
            self.send_header("Cache-Control", "no-store")
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refused_origin(self) -> bool:
            origin = self.headers.get("Origin", "")
            if origin and not service.allows(origin):
                self._send(403, {"ret": -1, "msg": f"该页面无权读卡（来源 {origin} 未获允许）"})
                return True
            return False

        def _json(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                found = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                return {}
            return found if isinstance(found, dict) else {}

        def do_OPTIONS(self) -> None:
            if self._refused_origin():
                return
            extra = [
                ("Access-Control-Allow-Methods", "GET, OPTIONS"),
                (
                    "Access-Control-Allow-Headers",
                    self.headers.get("Access-Control-Request-Headers") or "Content-Type",
                ),
                ("Access-Control-Max-Age", "600"),
            ]
            if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
                extra.append(("Access-Control-Allow-Private-Network", "true"))
            self._send(204, None, extra)

        def do_GET(self) -> None:
            if self._refused_origin():
                return
            if self.path.split("?")[0] != BASIC_PATH:
                self._send(404, {"ret": -1, "msg": "无此接口"})
                return
            self._send(200, service.read_basic())

        def do_PUT(self) -> None:
            body = self._json()
            if self.path == "/sim/card":
                card = service.cards.get(str(body.get("psn_no", "")))
                if card is None:
                    self._send(404, {"ret": -1, "msg": "模拟读卡器中没有该人员的卡"})
                    return
                service.reader.present(card)
            elif self.path == "/sim/reader":
                plugged = body.get("plugged", True)
                (service.reader.plug_in if plugged else service.reader.unplug)()
            else:
                self._send(404, {"ret": -1, "msg": "无此接口"})
                return
            self._send(200, {"ret": 0})

        def do_DELETE(self) -> None:
            if self.path != "/sim/card":
                self._send(404, {"ret": -1, "msg": "无此接口"})
                return
            service.reader.remove()
            self._send(200, {"ret": 0})

    return Handler
