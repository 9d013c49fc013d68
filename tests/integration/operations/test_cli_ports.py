"""A port already taken, as a new IT person meets it: a second `make run` while the first
still runs, or `serve` where another program holds 8000. The demo's simulator port stopped
it with a Python traceback ("OSError: [Errno 98] Address already in use") after the database
was set up, and a taken HTTP port after the whole demo had been seeded. Now one line on
stderr names the port, what it is for and how to choose another, before anything is made.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.operations.test_cli_settings import config, wi_adapter  # noqa: F401
from tests.support.ports import free_port


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_demo_with_its_simulator_port_taken_says_so_in_one_line(
    config: Path,  # noqa: F811
    taken: int,
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    done = wi_adapter(
        config, "demo", "--data-dir", str(data), "--simulator-port", str(taken),
        ADAPTER_HTTP__PORT=str(free_port()), ADAPTER_HL7__PORT=str(free_port()),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"wi-adapter: PORT_TAKEN: 端口 127.0.0.1:{taken}（上级系统模拟器）已被占用；"
        "请先停止占用它的程序（另一个演示？），或用 --simulator-port 换一个端口"
    ]
    assert not (data / "adapter.db").exists()


def test_serve_and_demo_with_the_http_or_mllp_port_taken_say_which_setting_moves_it(
    config: Path,  # noqa: F811
    taken: int,
    tmp_path: Path,
) -> None:
    done = wi_adapter(config, "serve", "--port", str(taken), ADAPTER_HL7__PORT=str(free_port()))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"wi-adapter: PORT_TAKEN: 端口 127.0.0.1:{taken}（HTTP）已被占用；"
        "请先停止占用它的程序，或用 --port 或 [http] port（ADAPTER_HTTP__PORT）换一个端口"
    ]
    assert not (config.parent / "data").exists()
    done = wi_adapter(
        config, "demo", "--data-dir", str(tmp_path / "demo"),
        "--simulator-port", str(free_port()), ADAPTER_HL7__PORT=str(taken),
        ADAPTER_HTTP__PORT=str(free_port()),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"wi-adapter: PORT_TAKEN: 端口 127.0.0.1:{taken}（HL7 MLLP）已被占用；"
        "请先停止占用它的程序，或用 [hl7] port（ADAPTER_HL7__PORT）换一个端口"
    ]
