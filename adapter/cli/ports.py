"""Ports ``serve`` and ``demo`` will listen on, checked free before anything is set up.

A port already taken (a second ``make run`` while the first still runs, another program on
8000) otherwise stopped the demo with a Python traceback once its database was made, or
after the whole demo was seeded. Each taken port is now one line naming the port, what it
is for and how to choose another; nothing is created. Another program may still take the
port in the instant between this check and the listen; the server then says so its own way.
"""

from __future__ import annotations

import socket

from adapter.domain.errors import AdapterError


class PortTaken(AdapterError):
    code = "PORT_TAKEN"


def check_free(host: str, port: int, what: str, how: str) -> None:
    """Raise :class:`PortTaken` when ``host:port`` cannot be listened on now."""
    if port == 0:  # any free port
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as the servers bind: a port whose last connections linger in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortTaken(
                f"端口 {host}:{port}（{what}）已被占用；请先停止占用它的程序{how}"
            ) from exc
