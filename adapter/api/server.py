"""The HTTP server the adapter runs under: uvicorn, with the time-outs uvicorn lacks.

Uvicorn closes idle keep-alive connections but waits forever for a request's head and body.
A client that opens connections and dribbles a header a byte at a time (slow-loris) would hold
each one open indefinitely, and enough of them exhaust the process's file descriptors, so the
clerks' browsers and the HIS could no longer connect. Each connection here must deliver a
request head within ``header_timeout_s`` and its body within ``body_timeout_s``; otherwise it
gets a 408 problem and is closed. A 16 MB body on a hospital LAN takes well under a second, so
the defaults leave a wide margin for honest clients.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from adapter.api.limits import problem_body
from adapter.settings_sections import HttpSettings


def config(app: Any, http: HttpSettings, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` with the site's limits applied."""
    return uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        http=guarded_protocol(http.header_timeout_s, http.body_timeout_s, http.max_connections),
        timeout_keep_alive=int(http.keep_alive_s),
        **options,
    )


def run(app: Any, http: HttpSettings, **options: Any) -> None:
    freeze_startup_heap()
    uvicorn.Server(config(app, http, **options)).run()


def freeze_startup_heap() -> None:
    """Leave what startup built (modules, the app, SQLAlchemy's compiled statements, the
    runtime) out of every later garbage collection: they live as long as the process.

    A settlement of a long stay builds ~100,000 objects (its lines, prices, the discharge
    record's detail), enough to start a full collection, and a full collection walks every
    object in the process: ~150 ms of a 10,000-line settle's ~550 ms CPU on the benchmark
    machine, spent on objects that can never be garbage. Objects made after this are
    collected as before."""
    gc.collect()  # what is already garbage is freed, not kept for good
    gc.freeze()


def guarded_protocol(
    header_timeout_s: float, body_timeout_s: float, max_connections: int
) -> type[H11Protocol]:
    """uvicorn's h11 protocol with deadlines for the request head and the request body, and a
    limit on open connections."""

    class GuardedH11Protocol(_GuardedH11Protocol):
        header_timeout = header_timeout_s
        body_timeout = body_timeout_s
        connection_limit = max_connections

    return GuardedH11Protocol


class _GuardedH11Protocol(H11Protocol):
    header_timeout: float
    body_timeout: float
    connection_limit: int

    # why: uvicorn narrows asyncio's BaseTransport to Transport here too (its own ignore[override])
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str = ""
        # Beyond the limit a connection is answered 503 at its first bytes and closed, so a
        # flood cannot take every descriptor the database and the HL7 listener also need.
        # (uvicorn's own limit_concurrency answers in plain text; the HIS expects a problem.)
        self._over_limit = len(self.connections) > self.connection_limit
        self._arm_for_state()

    def data_received(self, data: bytes) -> None:
        if self._over_limit:
            self._refuse_over_limit()
            return
        super().data_received(data)
        self._arm_for_state()

    def _refuse_over_limit(self) -> None:
        if self.transport.is_closing():
            return
        message = "适配器当前连接数已满，请稍后重试；如持续出现请联系信息科"
        body = problem_body(503, "连接数已满", "TOO_MANY_CONNECTIONS", message)
        self.transport.write(_response("503 Service Unavailable", body))
        self.logger.warning(
            "HTTP connection from %s refused: %d connections open, limit %d",
            _peer(self.client),
            len(self.connections),
            self.connection_limit,
        )
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_for_state()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm_for_state(self) -> None:
        """Keep exactly one deadline matching what the connection is waiting for from the client.

        The head deadline runs from when the connection opens, or the previous response ends,
        and further bytes do not reset it (uvicorn's own keep-alive timer, which the first
        byte cancels, may close an idle connection sooner). The body deadline runs from the
        end of the head. While the application answers no deadline runs: a slow settlement is
        not the client's fault.
        """
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            waiting_for = "head"
        elif state is h11.SEND_BODY:
            waiting_for = "body"
        else:
            waiting_for = ""
        if waiting_for == self._waiting_for:
            return
        self._disarm()
        self._waiting_for = waiting_for
        if waiting_for:
            delay = self.header_timeout if waiting_for == "head" else self.body_timeout
            self._deadline = self.loop.call_later(delay, self._timed_out, waiting_for)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = ""

    def _timed_out(self, waiting_for: str) -> None:
        self._deadline = None
        self._waiting_for = ""
        if self.transport.is_closing():
            return
        if waiting_for == "body":
            tell = self.cycle is not None and not self.cycle.response_started
        else:
            # only a client that started a head is told why; a connection that sent nothing is
            # simply closed, as uvicorn closes an idle keep-alive connection
            tell = bool(self.conn.trailing_data[0])
        if tell:
            part = "请求头" if waiting_for == "head" else "请求内容"
            message = f"{part}未在规定时间内收到，连接已关闭，请重新发送"
            body = problem_body(408, "请求超时", "REQUEST_TIMEOUT", message)
            self.transport.write(_response("408 Request Timeout", body))
        self.logger.warning(
            "HTTP connection from %s closed: request %s not received in time",
            _peer(self.client),
            waiting_for,
        )
        if self.cycle is not None and not self.cycle.response_complete:
            # the application, if it is reading the body, sees a disconnect and writes nothing
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def _response(status: str, body: bytes) -> bytes:
    """A whole problem+json answer after which the connection is closed."""
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown peer"
