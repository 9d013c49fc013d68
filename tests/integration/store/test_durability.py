"""SQLite commits are on disk before the adapter acknowledges them: the product's engine syncs
every commit (``synchronous=FULL``) unless IT chooses ``normal`` in ``[database]``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text

from adapter.settings import Settings, load_settings
from adapter.store.db import deferred_sync, make_engine
from adapter.wiring.runtime import build_runtime

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def _synchronous(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("PRAGMA synchronous")).scalar_one())


def test_an_engine_syncs_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    durable = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    faster = make_engine(f"sqlite:///{tmp_path / 'b.db'}", sqlite_synchronous="normal")
    try:
        assert _synchronous(durable) == FULL
        assert _synchronous(faster) == NORMAL
    finally:
        durable.dispose()
        faster.dispose()
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        make_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_synchronous="off")


def test_the_runtime_takes_durability_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings()
    for choice, expected in (("full", FULL), ("normal", NORMAL)):
        database = settings.database.model_copy(
            update={
                "url": f"sqlite:///{tmp_path / choice}.db",
                "sqlite_synchronous": choice,
            }
        )
        configured = settings.model_copy(update={"database": database, "data_dir": tmp_path})
        runtime = build_runtime(configured, workers=0, hl7=False, scheduled=False)
        try:
            assert _synchronous(runtime.engine) == expected
        finally:
            runtime.stop()


def test_the_shipped_settings_are_durable_and_a_typo_is_refused() -> None:
    assert load_settings().database.sqlite_synchronous == "full"
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings.model_validate({"database": {"sqlite_synchronous": "off"}})


def test_a_deferred_sync_is_this_threads_and_ends_with_its_block(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    inside = threading.Event()
    other: list[int] = []

    def elsewhere() -> None:
        inside.wait(10)
        other.append(_synchronous(engine))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    try:
        with deferred_sync(), engine.connect() as held:
            assert int(held.execute(text("PRAGMA synchronous")).scalar_one()) == NORMAL
            inside.set()  # the other thread reads while this one still holds the deferral
            thread.join(10)
        assert other == [FULL]
        assert _synchronous(engine) == FULL
    finally:
        engine.dispose()


def test_a_deferred_sync_changes_nothing_when_commits_are_not_synced(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", sqlite_synchronous="normal")
    try:
        with deferred_sync():
            assert _synchronous(engine) == NORMAL
        assert _synchronous(engine) == NORMAL
    finally:
        engine.dispose()


def test_a_file_uri_makes_the_folder_it_names_not_one_named_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only copy opened as ``sqlite:///file:…?mode=ro&uri=true`` (as IT opens a backup
    to look at it) left a folder named ``file:`` wherever the process ran."""
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    engine = make_engine(f"sqlite:///file:{tmp_path / 'new' / 'a.db'}?mode=rwc&uri=true")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert list(here.iterdir()) == []
    assert (tmp_path / "new" / "a.db").exists()
