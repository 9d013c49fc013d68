"""`wi-adapter demo` as `make run` starts it: a child process on free ports (HTTP, MLLP, the
simulator), awaited until it answers, stopped with Ctrl-C as a user stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.polling import answering
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_demo(
    data: Path,
    log: Path,
    *args: str,
    env: dict[str, str],
    ready: str = "/readyz",
    timeout: float = 90,
) -> Iterator[tuple[str, str]]:
    """``wi-adapter demo --data-dir data ARGS`` with ``env`` (no other ADAPTER_ variable),
    its output in ``log``, until ``ready`` answers 200 within ``timeout`` seconds; yields its
    base URL and what it printed by then. Ctrl-C must end it cleanly."""
    http_port, sim_port, mllp_port = free_port(), free_port(), free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTER_")}
    child_env |= {"ADAPTER_HTTP__PORT": str(http_port), "ADAPTER_HL7__PORT": str(mllp_port)}
    child_env |= env
    command = [sys.executable, "-m", "adapter.cli", "demo", "--data-dir", str(data)]
    command += ["--simulator-port", str(sim_port), *args]
    with log.open("w+") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=output, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{http_port}"
        try:
            answering(process, f"{base}{ready}", output, timeout=timeout, what="demo")
            output.seek(0)
            yield base, output.read()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                # uvicorn shuts down gracefully, then re-raises the SIGINT it caught
                assert process.wait(timeout=30) in (0, -signal.SIGINT)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
