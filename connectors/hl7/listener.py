"""The MLLP listener (asyncio): framing, peers, TLS, time-outs, graceful shutdown.

Per connection, frames are answered in order, one at a time (original-mode senders wait for
each ACK). The handler (:class:`connectors.hl7.inbound.Hl7Inbound`) is synchronous — it
writes to the database and calls the services — so it runs in a small thread pool; the
event loop only moves bytes. Contract with the handler:

* ``handle(raw, peer) -> ack`` for every complete frame; an exception means nothing could be
  stored: the connection is closed without an ACK and the sender resends;
* ``handle_oversize(head, size, peer) -> ack | None`` for a frame over ``max_message_bytes``;
  ``None`` (header unreadable) closes the connection.

Protection: a peer not on the allow-list (addresses or networks; empty = loopback only) is
closed at once, before any TLS handshake, and logged. A connection silent for
``idle_timeout_s``, or one that takes longer than ``message_timeout_s`` to deliver a message
it has started (slow-loris), is closed. So are more than ``max_connections`` at once, and a
peer sending more than ``max_garbage_bytes`` outside any frame.

:meth:`MllpListener.stop` stops accepting, closes idle connections, lets messages already
received finish (stored, processed, acknowledged) within ``shutdown_grace_s``, then closes.
:class:`ListenerThread` runs a listener on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from connectors.hl7 import metrics as hl7_metrics
from connectors.hl7.mllp import Frame, Garbage, MllpDecoder, Oversize, frame

logger = logging.getLogger("connectors.hl7.listener")

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class Handler(Protocol):
    def handle(self, raw: bytes, peer: str) -> bytes: ...

    def handle_oversize(self, head: bytes, size: int, peer: str) -> bytes | None: ...


@dataclass(frozen=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2575  # 0 = any free port (tests)
    allowed_peers: tuple[str, ...] = ()  # "10.1.2.3", "10.1.0.0/16"; empty = loopback only
    max_message_bytes: int = 1_048_576
    idle_timeout_s: float = 300.0
    message_timeout_s: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    tls_handshake_timeout_s: float = 10.0
    max_connections: int = 100
    max_garbage_bytes: int = 4096
    workers: int = 8
    shutdown_grace_s: float = 10.0


class _Connection:
    __slots__ = ("busy", "task")

    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task = task
        self.busy = False


class _Gate(asyncio.Protocol):
    """The first protocol of every connection: hands the transport to the listener."""

    def __init__(self, listener: MllpListener) -> None:
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.listener._accept(transport)


class MllpListener:
    def __init__(self, handler: Handler, config: ListenerConfig | None = None) -> None:
        self.handler = handler
        self.config = config or ListenerConfig()
        self._networks = _networks(self.config.allowed_peers)
        self._server: asyncio.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connections: set[_Connection] = set()
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("listener is not running")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving() and not self._closing

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(self.config.workers, thread_name_prefix="hl7")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Gate(self), self.config.host, self.config.port
        )
        logger.info("hl7.listening", extra={"host": self.config.host, "port": self.port})

    async def stop(self) -> None:
        """Stop accepting; finish messages in flight; close everything."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if not connection.busy:
                connection.task.cancel()
        tasks = [connection.task for connection in self._connections]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self.config.shutdown_grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._server is not None:
            await self._server.wait_closed()
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, True)
        logger.info("hl7.stopped")

    def allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _accept(self, transport: asyncio.Transport) -> None:
        """A TCP connection arrived: refuse it, or pause it and start serving it.

        Reading is paused at once, so no byte is consumed before the peer check and, with
        TLS, before the handshake owns the stream (``StreamWriter.start_tls`` would lose a
        ClientHello that arrived before it was called).
        """
        peername = transport.get_extra_info("peername")
        host = str(peername[0]) if peername else "?"
        if self._closing:
            transport.close()
            return
        if not self.allowed(host):
            logger.warning("hl7.peer_refused", extra={"peer": host})
            transport.close()
            return
        if len(self._connections) >= self.config.max_connections:
            logger.warning("hl7.too_many_connections", extra={"peer": host})
            transport.close()
            return
        transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._connection(transport, host))
        self._connections.add(_Connection(task))

    async def _connection(self, transport: asyncio.Transport, host: str) -> None:
        loop = asyncio.get_running_loop()
        connection = next(c for c in self._connections if c.task is asyncio.current_task())
        reader = asyncio.StreamReader(limit=2**16, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        writer: asyncio.StreamWriter | None = None
        try:
            if self.config.ssl_context is not None:
                tls = await loop.start_tls(
                    transport,
                    protocol,
                    self.config.ssl_context,
                    server_side=True,
                    ssl_handshake_timeout=self.config.tls_handshake_timeout_s,
                )
                if tls is None:
                    return
                transport = tls
                protocol.connection_made(transport)
            else:
                transport.set_protocol(protocol)
                protocol.connection_made(transport)
                transport.resume_reading()
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._serve(connection, reader, writer, host)
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError) as exc:
            logger.info("hl7.connection_dropped", extra={"peer": host, "why": repr(exc)})
        finally:
            self._connections.discard(connection)
            if writer is not None:
                await _close(writer)
            else:
                transport.close()

    async def _serve(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
    ) -> None:
        config = self.config
        decoder = MllpDecoder(config.max_message_bytes)
        loop = asyncio.get_running_loop()
        frame_started: float | None = None
        garbage = 0
        while not self._closing:
            timeout = config.idle_timeout_s
            if frame_started is not None:
                timeout = min(timeout, frame_started + config.message_timeout_s - time.monotonic())
                if timeout <= 0:
                    logger.warning("hl7.message_too_slow", extra={"peer": host})
                    return
            try:
                # a deadline on this task, not wait_for's task per read (one per message)
                async with asyncio.timeout(timeout):
                    data = await reader.read(65536)
            except TimeoutError:
                slow = frame_started is not None
                logger.warning("hl7.slow_message" if slow else "hl7.idle", extra={"peer": host})
                return
            if not data:
                return
            connection.busy = True
            try:
                for event in decoder.feed(data):
                    if isinstance(event, Garbage):
                        garbage += event.size
                        if garbage > config.max_garbage_bytes:
                            logger.warning("hl7.garbage", extra={"peer": host, "bytes": garbage})
                            return
                        continue
                    if isinstance(event, Frame):
                        began = time.monotonic()
                        ack: bytes | None = await loop.run_in_executor(
                            self._executor, self.handler.handle, event.payload, host
                        )
                        hl7_metrics.observe(event.payload, ack, time.monotonic() - began, host)
                    else:
                        assert isinstance(event, Oversize)
                        logger.warning("hl7.oversize", extra={"peer": host, "size": event.size})
                        ack = await loop.run_in_executor(
                            self._executor,
                            self.handler.handle_oversize,
                            event.head,
                            event.size,
                            host,
                        )
                    if ack is None:
                        return
                    writer.write(frame(ack))
                    await writer.drain()
            except (ConnectionError, OSError):
                return
            except Exception:  # the handler could not store or answer: no ACK, close
                logger.exception("hl7.handler_failed", extra={"peer": host})
                return
            finally:
                connection.busy = False
            if decoder.in_frame:
                frame_started = frame_started if frame_started is not None else time.monotonic()
            else:
                frame_started = None


class ListenerThread:
    """A listener on its own event loop in a daemon thread (the demo, the tests)."""

    def __init__(self, listener: MllpListener) -> None:
        self.listener = listener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def serving(self) -> bool:
        """The thread runs and the listener accepts connections."""
        return self._thread is not None and self._thread.is_alive() and self.listener.serving

    def start(self, timeout: float = 10.0) -> int:
        """Start listening; returns the bound port once it accepts connections."""
        self._thread = threading.Thread(target=self._run, name="hl7-listener", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("HL7 listener did not start in time")
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self, timeout: float = 30.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.listener.stop(), loop)
        try:
            future.result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.listener.start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    if not entries:
        return _LOOPBACK
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError, TimeoutError):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)
