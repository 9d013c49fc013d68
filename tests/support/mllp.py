"""One MLLP exchange over a real socket, for tests that talk HL7 to the listener."""

from __future__ import annotations

import socket


def exchange(port: int, message: bytes) -> str:
    """Send one framed message to 127.0.0.1:``port`` and return its ACK's text (UTF-8)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x0b" + message + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = sock.recv(65536)
            assert chunk, "the listener closed without an ACK"
            data += chunk
    return data[1:-2].decode("utf-8")
