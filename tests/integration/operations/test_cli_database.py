"""An operator's command against the wrong database: one line saying where it looked, exit 1,
nothing created (a relative SQLite path is read against the config file's folder, so a URL
that worked in one shell may point elsewhere in another)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli import main
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade


@pytest.mark.parametrize(
    "command", [["audit", "verify"], ["audit", "anchor"], ["hl7", "log"], ["queue", "summary"]]
)
def test_a_missing_sqlite_file_is_refused_and_not_created(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "elsewhere" / "adapter.db"
    monkeypatch.setenv("ADAPTER_DATABASE__URL", f"sqlite:///{missing}")
    assert main(command) == 1
    said = capsys.readouterr().err
    assert f"no database file at {missing}" in said and "wi-adapter migrate" in said
    assert "Traceback" not in said
    assert not missing.exists() and not missing.parent.exists()


def test_a_database_never_migrated_is_refused_naming_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(db_url)
    with engine.connect():
        pass  # SQLite: the file exists, empty
    engine.dispose()
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    assert main(["audit", "verify"]) == 1
    said = capsys.readouterr().err
    assert "has no adapter tables; run `wi-adapter migrate` first" in said
    assert db_url.split("@")[-1] in said  # host and database (a password would show as ***)


def test_once_migrated_the_same_command_runs(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 0 entries checked" in capsys.readouterr().out
