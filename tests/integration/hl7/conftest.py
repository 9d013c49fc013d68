"""Fixtures: a real MLLP listener on a free loopback port, a real database, a fake service."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.hl7 import (
    ListenerConfig,
    ListenerThread,
    MessageLog,
    build_listener,
    create_tables,
    load_site_profile,
)
from connectors.hl7.mllp import END_BLOCK, frame
from tests.integration.hl7.fakes import FakeEncounters

PROFILE = load_site_profile(Path(__file__).parents[3] / "config" / "hl7_site.toml")


class MllpClient:
    """A blocking MLLP client with bounded waits."""

    def __init__(self, port: int, *, timeout: float = 10.0, sock: socket.socket | None = None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes) -> bytes:
        self.send_raw(frame(payload))
        return self.read_ack()

    def read_ack(self) -> bytes:
        while END_BLOCK not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before an ACK arrived")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(END_BLOCK)
        assert message.startswith(b"\x0b")
        return message[1:]

    def is_closed_by_peer(self) -> bool:
        """True once the server closed the connection (bounded by the socket timeout)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@dataclasses.dataclass
class Running:
    thread: ListenerThread
    port: int
    fake: FakeEncounters
    log: MessageLog
    engine: Engine
    clients: list[MllpClient] = dataclasses.field(default_factory=list)

    def client(self, **kw: float) -> MllpClient:
        """A connected client, closed when the test ends."""
        client = MllpClient(self.port, **kw)
        self.clients.append(client)
        return client


@pytest.fixture
def hl7_engine(engine: Engine) -> Engine:
    create_tables(engine)
    return engine


@pytest.fixture
def start_listener(hl7_engine: Engine) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(fake: FakeEncounters | None = None, profile=PROFILE, **config: object) -> Running:
        fake = fake or FakeEncounters()
        settings = ListenerConfig(host="127.0.0.1", port=0, **config)  # type: ignore[arg-type]
        thread = ListenerThread(build_listener(hl7_engine, fake, profile, settings))
        port = thread.start()
        result = Running(thread, port, fake, MessageLog(hl7_engine), hl7_engine)
        started.append(result)
        return result

    yield start
    for result in started:
        for client in result.clients:
            client.close()
        result.thread.stop()


@pytest.fixture
def running(start_listener: Callable[..., Running]) -> Running:
    return start_listener()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
