"""Oversized and slow HTTP requests: refused or left waiting without harming other clients."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from adapter.api.app import create_app
from adapter.settings import load_settings
from adapter.store.db import make_engine
from tests.support.live import serving

LIMIT = 64 * 1024


@pytest.fixture
def base(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = load_settings(http={"max_body_bytes": LIMIT})
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    with serving(create_app(settings, engine)) as url:
        yield url
    engine.dispose()


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
    host, port = base.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    try:
        slow.sendall(b"POST /api/v1/eligibility HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
        for _ in range(20):  # while it dribbles, everyone else is served at once
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        slow.close()
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
