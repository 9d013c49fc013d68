"""`wi-adapter backup PATH` / `restore PATH`: SQLite's online backup API; PostgreSQL: the
commands to run instead."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapter.cli import main
from adapter.store.migrate import upgrade
from adapter.store.tokens import authenticate, create_token, revoke_token


@pytest.fixture
def configured(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    upgrade(engine)
    return engine


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_backup_taken_while_running_restores_the_database_as_it_was(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    kept = create_token(configured, "住院处-01", ["admission"], now)
    folder = tmp_path / "backups"
    folder.mkdir()
    assert main(["backup", str(folder)]) == 0
    (copy,) = folder.glob("adapter-*.db")
    assert str(copy) in capsys.readouterr().out
    later = create_token(configured, "住院处-02", ["admission"], now)
    revoke_token(configured, 1, now)
    configured.dispose()
    assert main(["restore", str(copy)]) == 0
    assert "audit verify" in capsys.readouterr().out
    assert authenticate(configured, kept) is not None  # revoked after the backup: back
    assert authenticate(configured, later) is None  # created after the backup: gone


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_backup_into_a_folder_not_made_yet_makes_it_and_a_dated_file_in_it(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the guide's `wi-adapter backup /backup` on a server without /backup wrote a file named
    # /backup, and every later night overwrote it: one backup, never the week's
    folder = tmp_path / "backup"
    assert main(["backup", str(folder)]) == 0
    assert folder.is_dir()
    (copy,) = folder.glob("adapter-*.db")
    assert str(copy) in capsys.readouterr().out
    named = tmp_path / "before-upgrade.db"
    assert main(["backup", str(named)]) == 0
    assert named.is_file()  # a file name is still taken as given


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_restore_refuses_a_file_that_is_not_an_adapter_backup(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert main(["restore", str(junk)]) == 1
    assert "not a usable backup" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "missing.db")]) == 1


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_postgresql_backup_and_restore_say_what_to_run(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", str(tmp_path / "a.dump")]) == 2
    assert "pg_dump -Fc" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "a.dump")]) == 2
    assert "pg_restore" in capsys.readouterr().out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_backup_and_restore_draw_progress_on_stderr_with_progress(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.db"
    assert main(["backup", "--progress", str(copy)]) == 0
    shown = capsys.readouterr()
    assert "backed up" in shown.out and "%" not in shown.out
    *drawn, logged = shown.err.splitlines()  # the bar, then the event logged
    assert drawn[-1].startswith("复制 copy") and "100%" in drawn[-1]
    assert " database.backed_up " in logged
    configured.dispose()
    assert main(["restore", "--progress", str(copy)]) == 0
    assert "100%" in capsys.readouterr().err.splitlines()[-2]
    assert main(["backup", str(tmp_path / "quiet.db")]) == 0
    (said,) = capsys.readouterr().err.splitlines()  # no terminal, not asked: no bar
    assert " database.backed_up " in said and "%" not in said


class _OneSecond(datetime):
    """The clock of two backups taken within the same second (a script's retry, two cron
    lines): which second it is cannot be arranged with the real clock."""

    @classmethod
    def now(cls, tz: object = None) -> _OneSecond:  # type: ignore[override]  # a frozen clock
        return cls(2026, 12, 6, 0, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_backups_into_one_folder_in_the_same_second_are_two_files_in_order(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The second backup of a second took the first's name and silently replaced it: the
    backup before a change was gone. Each now gets its own file, named so that sorting the
    names sorts the backups, and restore takes the last as it takes any."""
    now = datetime.now(UTC)
    kept = create_token(configured, "住院处-01", ["admission"], now)
    monkeypatch.setattr("adapter.cli.backup.datetime", _OneSecond)
    folder = tmp_path / "backup"
    assert main(["backup", str(folder)]) == 0
    first_said = capsys.readouterr()
    later = create_token(configured, "住院处-02", ["admission"], now)
    assert main(["backup", str(folder)]) == 0
    second_said = capsys.readouterr()
    first, second = sorted(folder.glob("adapter-*.db"))
    assert str(first) in first_said.out and str(first) in first_said.err  # logged as written
    assert str(second) in second_said.out and str(second) in second_said.err
    assert first.name.startswith("adapter-20261206T000000") and first.name.endswith("Z.db")
    configured.dispose()
    assert main(["restore", str(first)]) == 0
    assert authenticate(configured, kept) is not None
    assert authenticate(configured, later) is None  # the first backup, as it was taken
    configured.dispose()
    assert main(["restore", str(second)]) == 0
    assert authenticate(configured, later) is not None
