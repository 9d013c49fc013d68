"""An operator's command against the wrong database: one line saying where it looked, exit 1,
nothing created (a relative SQLite path is read against the config file's folder, so a URL
that worked in one shell may point elsewhere in another)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from adapter.cli import main
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade

# Token and user commands once migrated the database they were pointed at, so a wrong URL
# got a new empty database holding a token (or user) the server never saw.
ACCOUNTS = [
    ["token", "create", "--name", "住院处-01", "--role", "admission"],
    ["token", "list"],
    ["token", "revoke", "1"],
    ["user", "create", "--name", "入院处-01", "--role", "admission", "--password-stdin"],
    ["user", "list"],
    ["user", "disable", "入院处-01"],
    ["user", "unlock", "入院处-01"],
    ["user", "reset-password", "入院处-01", "--password-stdin"],
]


READERS = [["audit", "verify"], ["audit", "anchor"], ["hl7", "log"], ["queue", "summary"]]


@pytest.fixture
def never_migrated(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The commands' database: there, but empty (SQLite: the file exists)."""
    engine = make_engine(db_url)
    with engine.connect():
        pass
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands' database, migrated."""
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)


@pytest.mark.parametrize("command", READERS + ACCOUNTS, ids=" ".join)
def test_a_missing_sqlite_file_is_refused_and_not_created(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "elsewhere" / "adapter.db"
    monkeypatch.setenv("ADAPTER_DATABASE__URL", f"sqlite:///{missing}")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(command) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no token printed: there is nowhere it would work
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"no database file at {missing}" in err and "wi-adapter migrate" in err
    assert not missing.exists() and not missing.parent.exists()


def test_a_database_never_migrated_is_refused_naming_it(
    never_migrated: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 1
    said = capsys.readouterr().err
    assert "has no adapter tables; run `wi-adapter migrate` first" in said
    assert db_url.split("@")[-1] in said  # host and database (a password would show as ***)


def test_once_migrated_the_same_command_runs(
    migrated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 0 entries checked" in capsys.readouterr().out


@pytest.mark.parametrize("command", ACCOUNTS, ids=" ".join)
def test_token_and_user_commands_refuse_a_database_never_migrated_and_leave_it_empty(
    command: list[str],
    never_migrated: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(command) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "has no adapter tables; run `wi-adapter migrate` first" in err
    assert inspect(never_migrated).get_table_names() == []


def test_once_migrated_token_commands_create_list_and_revoke(
    migrated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "create", "--name", "住院处-01", "--role", "admission"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["token", "list"]) == 0
    assert "住院处-01" in capsys.readouterr().out
    assert main(["token", "revoke", "1"]) == 0
    assert "token 1 revoked" in capsys.readouterr().out
    assert main(["token", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_once_migrated_user_commands_run(
    migrated: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "入院处-01"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    assert main(["user", "create", "--name", name, "--role", "admission", "--password-stdin"]) == 0
    assert main(["user", "list"]) == 0
    assert main(["user", "unlock", name]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-password-2\n"))
    assert main(["user", "reset-password", name, "--password-stdin"]) == 0
    assert main(["user", "disable", name]) == 0
    said = capsys.readouterr().out
    assert f"user 1 {name} created" in said and f"user {name} disabled" in said
