"""``wi-adapter hl7 log`` and ``hl7 reprocess`` against a real (SQLite) database.

SQLite only: on PostgreSQL a pooled psycopg connection from the CLI path is reported unclosed
at garbage collection (seen with other CLI commands too); the log's queries themselves are
covered on both backends by the other integration tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import adapter.bootstrap
from adapter.cli import main
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from connectors.hl7 import build_inbound
from tests.integration.hl7.conftest import PROFILE
from tests.integration.hl7.fakes import FakeEncounters
from tests.unit.hl7 import messages as m


@pytest.fixture
def logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEncounters]:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("ADAPTER_DATABASE__URL", url)
    engine = make_engine(url)
    upgrade(engine)  # as `wi-adapter migrate` leaves it (the CLI refuses one never migrated)
    fake = FakeEncounters()
    inbound = build_inbound(engine, fake, PROFILE)
    inbound.handle(m.admit("CLI-1", visit="VC").encode(), "10.0.0.5")
    inbound.handle(m.dft("CLI-2", [m.ft1("L1")], visit="NOPE").encode(), "10.0.0.5")
    yield fake
    engine.dispose()


def test_log_lists_and_filters(logged: FakeEncounters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hl7", "log"]) == 0
    out = capsys.readouterr().out
    assert "CLI-1" in out and "CLI-2" in out and "10.0.0.5" in out
    assert main(["hl7", "log", "--outcome", "refused", "--type", "DFT"]) == 0
    out = capsys.readouterr().out
    assert "CLI-2" in out and "CLI-1" not in out
    assert main(["hl7", "log", "--visit", "VC", "--since", datetime.now(UTC).isoformat()]) == 0
    assert "CLI-1" not in capsys.readouterr().out


def test_reprocess_without_wired_services_says_so(
    logged: FakeEncounters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delattr(adapter.bootstrap, "encounter_commands", raising=False)
    assert main(["hl7", "reprocess", "1"]) == 2
    assert "adapter.bootstrap.encounter_commands" in capsys.readouterr().err


def test_reprocess_uses_the_wired_services(
    logged: FakeEncounters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    logged.encounters["NOPE"] = logged.encounters.pop("VC")
    monkeypatch.setattr(
        adapter.bootstrap, "encounter_commands", lambda settings, engine: logged, raising=False
    )
    refused_id = 2
    assert main(["hl7", "reprocess", str(refused_id)]) == 0
    assert "accepted (AA), attempt 2" in capsys.readouterr().out
    assert main(["hl7", "reprocess", "999"]) == 1
    assert "999" in capsys.readouterr().err
