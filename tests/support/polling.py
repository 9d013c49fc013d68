"""Waiting for what runs in the background (an upload worker, the scheduler, another process):
poll until it shows, bounded, never a blind sleep."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import IO, TypeVar

import httpx
import pytest

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy, and return that; fail after
    ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:.0f}s: {what or check}")
        time.sleep(0.05)


def answering(
    process: subprocess.Popen[bytes], url: str, output: IO[str], *, timeout: float, what: str
) -> httpx.Response:
    """Poll ``url`` until it answers 200 and return that answer; fail, with what the process
    wrote to ``output``, once it has exited or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = httpx.get(url, timeout=5)
            if reply.status_code == 200:
                return reply
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output.seek(0)
            pytest.fail(f"{what} did not come up:\n{output.read()}")
        time.sleep(0.2)
