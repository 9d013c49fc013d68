"""The listener's protections and life cycle, over real sockets."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.hl7.mllp import frame
from connectors.hl7.reader import Hl7Message
from tests.integration.hl7.conftest import MllpClient, Running
from tests.integration.hl7.fakes import FakeEncounters
from tests.unit.hl7 import messages as m


def msa(raw: bytes) -> str:
    return Hl7Message(raw.decode()).require("MSA").get(1)


def test_a_peer_not_on_the_allow_list_is_closed_at_once(start_listener, caplog) -> None:
    running = start_listener(allowed_peers=("10.9.9.9", "192.168.0.0/16"))
    client = running.client(timeout=5)
    assert client.is_closed_by_peer()
    assert running.log.count() == 0
    assert any(record.msg == "hl7.peer_refused" for record in caplog.records)


def test_an_allowed_network_is_served(start_listener) -> None:
    running = start_listener(allowed_peers=("127.0.0.0/8",))
    assert msa(running.client().send(m.admit("P-1").encode())) == "AA"


def test_slow_loris_is_cut_off_while_another_client_is_served(start_listener) -> None:
    running = start_listener(message_timeout_s=0.5, idle_timeout_s=30)
    slow = running.client(timeout=5)
    payload = frame(m.admit("SLOW").encode())
    slow.send_raw(payload[:10])
    started = time.monotonic()
    fast = running.client()
    for index in range(5):
        assert msa(fast.send(m.admit(f"FAST-{index}", visit=f"VF{index}").encode())) == "AA"
    cut = False
    for byte in payload[10:60]:  # trickle, one byte at a time
        try:
            slow.send_raw(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            cut = True
            break
        time.sleep(0.05)  # the attacker's pace, not a wait for a result
    assert cut or slow.is_closed_by_peer()
    assert time.monotonic() - started < 5
    assert running.log.search(control_id="SLOW") == []


def test_an_idle_connection_is_closed(start_listener) -> None:
    running = start_listener(idle_timeout_s=0.3)
    client = running.client(timeout=5)
    assert msa(client.send(m.admit("I-1").encode())) == "AA"
    started = time.monotonic()
    assert client.is_closed_by_peer()
    assert time.monotonic() - started < 4


def test_many_concurrent_senders(running: Running) -> None:
    senders, per_sender = 12, 8

    def send_all(sender: int) -> list[str]:
        client = MllpClient(running.port)
        try:
            codes = [msa(client.send(m.admit(f"S{sender}", visit=f"V{sender}").encode()))]
            for index in range(per_sender - 1):
                line = m.ft1(f"L{index}")
                codes.append(
                    msa(
                        client.send(
                            m.dft(f"S{sender}-{index}", [line], visit=f"V{sender}").encode()
                        )
                    )
                )
            return codes
        finally:
            client.close()

    with ThreadPoolExecutor(senders) as pool:
        results = list(pool.map(send_all, range(senders)))
    assert all(code == "AA" for codes in results for code in codes)
    assert running.log.count() == senders * per_sender
    assert all(
        len(running.fake.encounters[f"V{s}"].lines) == per_sender - 1 for s in range(senders)
    )


def test_graceful_shutdown_finishes_the_message_in_flight(start_listener) -> None:
    fake = FakeEncounters()
    fake.gate = threading.Event()
    running = start_listener(fake)
    busy = running.client()
    idle = running.client(timeout=5)
    busy.send_raw(frame(m.admit("G-1").encode()))
    assert fake.entered.wait(5)
    stopper = threading.Thread(target=running.thread.stop)
    stopper.start()
    assert idle.is_closed_by_peer()  # idle connections are closed at once
    fake.gate.set()
    assert msa(busy.read_ack()) == "AA"  # the one in flight is finished and acknowledged
    stopper.join(10)
    assert not stopper.is_alive()
    (row,) = running.log.search(control_id="G-1")
    assert row.outcome == "accepted"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2).close()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls(start_listener, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    running = start_listener(ssl_context=server)
    client_context = ssl.create_default_context(cafile=str(cert))
    raw = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    wrapped = client_context.wrap_socket(raw, server_hostname="127.0.0.1")
    client = MllpClient(running.port, sock=wrapped)
    running.clients.append(client)
    assert msa(client.send(m.admit("TLS-1").encode())) == "AA"
    plain = running.client(timeout=5)  # a client that does not speak TLS gets nothing
    plain.send_raw(frame(m.admit("TLS-2").encode()))
    assert plain.is_closed_by_peer()
    assert running.log.search(control_id="TLS-2") == []


def test_a_hundred_his_connections_at_once_are_each_served(start_listener) -> None:
    """A hospital with many HIS feeds raises ``[hl7] max_connections`` and ``workers``:
    100 connections open together, each sends its messages and waits for every ACK."""
    connections, per_connection = 100, 3
    running = start_listener(max_connections=connections + 10, workers=8)
    clients = [MllpClient(running.port, timeout=60) for _ in range(connections)]
    running.clients.extend(clients)
    all_open = threading.Barrier(connections)

    def feed(index: int) -> list[str]:
        client = clients[index]
        all_open.wait(timeout=30)
        codes = [msa(client.send(m.admit(f"C{index}", visit=f"W{index}").encode()))]
        for n in range(per_connection - 1):
            payload = m.dft(f"C{index}-{n}", [m.ft1(f"L{n}")], visit=f"W{index}")
            codes.append(msa(client.send(payload.encode())))
        return codes

    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(feed, range(connections)))
    assert [len(codes) for codes in results] == [per_connection] * connections
    assert all(code == "AA" for codes in results for code in codes)
    assert running.log.count() == connections * per_connection


def test_the_connection_limit_is_the_configured_one(start_listener) -> None:
    running = start_listener(max_connections=2)
    first, second = running.client(timeout=5), running.client(timeout=5)
    assert msa(first.send(m.admit("K-1", visit="K1").encode())) == "AA"
    assert msa(second.send(m.admit("K-2", visit="K2").encode())) == "AA"
    third = running.client(timeout=5)
    assert third.is_closed_by_peer()
