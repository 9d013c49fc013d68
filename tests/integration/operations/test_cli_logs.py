"""An operator's command logs its warnings with time, level and fields on stderr, as the
service does (Python printed the bare event name: ``upstream.call``, eight times, nothing else)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade


def test_a_failed_upstream_call_during_a_command_is_logged_with_its_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/adapter.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("ADAPTER_DATABASE__URL", url)
    monkeypatch.setenv("ADAPTER_UPSTREAM__BASE_URL", "http://127.0.0.1:9")  # nobody listens
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)

    assert main(["reconcile", "2026-11"]) == 1

    said = capsys.readouterr().err
    line = next(line for line in said.splitlines() if "upstream.call" in line)
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00 WARNING connectors\.upstream ", line
    )
    assert "infno=WI9001" in line and "outcome=unavailable" in line and "attempt=1" in line
    assert said.rstrip().endswith("请稍后重试；如持续失败请联系信息科")  # the one-line refusal last
    # the caller's logging is as it was (tests, and anything running commands in-process)
    assert (root.level, root.handlers) == (level, handlers)
