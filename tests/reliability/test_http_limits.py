"""Oversized and slow HTTP requests: refused or left waiting without harming other clients."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from adapter.api.app import create_app
from adapter.settings import load_settings
from adapter.store.db import make_engine
from tests.support.live import serving

LIMIT = 64 * 1024


HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5


@pytest.fixture
def base(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = load_settings(
        http={
            "max_body_bytes": LIMIT,
            "header_timeout_s": HEAD_TIMEOUT,
            "body_timeout_s": BODY_TIMEOUT,
        }
    )
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    with serving(create_app(settings, engine), http=settings.http) as url:
        yield url
    engine.dispose()


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends before it closes the connection (bounded by the socket time-out)."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_a_declared_oversized_body_is_refused_with_413_before_it_is_read(base: str) -> None:
    reply = httpx.post(
        f"{base}/api/v1/eligibility",
        content=b"{" + b" " * (LIMIT + 1) + b"}",
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["errors"][0]["code"] == "REQUEST_TOO_LARGE"
    assert "分批" in reply.json()["errors"][0]["message"]


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (LIMIT // 2)

    reply = httpx.post(
        f"{base}/api/v1/eligibility",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413


def test_a_slow_sender_does_not_hold_up_other_clients(base: str) -> None:
    slow = connect(base)
    try:
        slow.sendall(b"POST /api/v1/eligibility HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
        for _ in range(20):  # while it dribbles, everyone else is served at once
            assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
    finally:
        slow.close()
    assert httpx.get(f"{base}/livez", timeout=5).status_code == 200


def test_a_head_dribbled_a_byte_at_a_time_is_cut_off_with_408(base: str) -> None:
    head = b"GET /api/v1/queue/summary HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    slow = connect(base)
    started = time.monotonic()
    try:
        for byte in head:  # 12 s of dribbling if nobody stops it: each byte resets nothing
            if select.select([slow], [], [], 0)[0]:
                break  # the server has answered (and closed): stop before a reset loses it
            slow.sendall(bytes([byte]))
            time.sleep(0.05)
        else:
            pytest.fail("the slow head was never cut off")
        elapsed = time.monotonic() - started
        reply = read_until_closed(slow)
    finally:
        slow.close()
    assert HEAD_TIMEOUT <= elapsed < HEAD_TIMEOUT + 5
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"application/problem+json" in reply
    problem = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert problem["errors"][0]["code"] == "REQUEST_TIMEOUT"
    assert "请求头" in problem["errors"][0]["message"]


def test_a_connection_that_sends_nothing_is_closed_after_the_head_time_out(base: str) -> None:
    silent = connect(base)
    started = time.monotonic()
    try:
        assert read_until_closed(silent) == b""  # closed without a word, as keep-alive is
    finally:
        silent.close()
    assert time.monotonic() - started < HEAD_TIMEOUT + 5


def test_a_body_that_stops_arriving_is_cut_off_with_408(base: str) -> None:
    slow = connect(base)
    try:
        slow.sendall(
            b"POST /api/v1/eligibility HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"card"'
        )
        reply = read_until_closed(slow)
    finally:
        slow.close()
    assert reply.startswith(b"HTTP/1.1 408 ")
    problem = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert "请求内容" in problem["errors"][0]["message"]


def test_many_slow_connections_are_all_cut_off_while_others_are_served(base: str) -> None:
    sockets = [connect(base) for _ in range(50)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        replies = [read_until_closed(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies)
    assert httpx.get(f"{base}/livez", timeout=5).status_code == 200


def test_an_honest_keep_alive_client_is_not_cut_off_between_requests(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for n in range(3):  # one connection, pauses adding up to more than the head deadline
            client.request("GET", "/livez")
            reply = client.getresponse()
            assert reply.status == 200 and reply.read()
            if n == 0:
                first = client.sock
            assert client.sock is first  # still the same connection: not closed under us
            time.sleep(HEAD_TIMEOUT * 0.6)
    finally:
        client.close()


def test_connections_beyond_the_limit_get_503_and_service_resumes_when_they_close(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings = load_settings(http={"max_connections": 10, "header_timeout_s": 30})
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    with serving(create_app(settings, engine), http=settings.http) as base:
        hogs = [connect(base) for _ in range(10)]
        try:
            with httpx.Client(base_url=base, timeout=5) as client:
                refused = client.get("/livez")
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            (error,) = refused.json()["errors"]
            assert error["code"] == "TOO_MANY_CONNECTIONS" and "连接数已满" in error["message"]
        finally:
            for sock in hogs:
                sock.close()
        with httpx.Client(base_url=base, timeout=5) as client:
            for _ in range(100):  # the server notices the closed sockets within a few polls
                if client.get("/livez").status_code == 200:
                    break
            assert client.get("/livez").status_code == 200
    engine.dispose()
