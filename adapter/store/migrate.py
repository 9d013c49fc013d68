"""Programmatic Alembic: no ``alembic.ini``, the script folder ships inside the package.

``upgrade(engine_or_url)`` brings a database to ``head`` (or a given revision);
``current(engine_or_url)`` says where it is (``None``: never migrated). Run at deploy time by
``wi-adapter migrate``; tests run it on fresh SQLite and PostgreSQL databases.

On SQLite the migrations run with foreign keys off (:func:`_migrating`): SQLite alters a table
by rebuilding it (Alembic's batch mode), and dropping the old table with foreign keys on first
deletes its rows, and by ``ON DELETE CASCADE`` every row that references them — 0017's rebuild
of ``upload_job`` emptied the upload attempt history and the replaced payloads so. The
references are checked before the commit instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

from adapter.store.db import make_engine

SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def config(*, target_metadata: list[MetaData] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if target_metadata is not None:
        cfg.attributes["target_metadata"] = target_metadata
    return cfg


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for the migrations; on SQLite with foreign keys off
    while they run (see the module), every reference checked before the commit."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                yield connection
            return
        # a no-op inside a transaction: set on the driver's connection, before BEGIN
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    table, rowid, parent, _ = broken[0]
                    raise RuntimeError(
                        f"the migration left {len(broken)} broken references, the first of"
                        f" {table} row {rowid} to {parent}; nothing was changed"
                    )
        finally:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(pragma)
    finally:
        cursor.close()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction."""
    _run(command.upgrade, engine_or_url, revision)


def downgrade(engine_or_url: Engine | str, revision: str) -> None:
    """Migrate the database back to ``revision`` in one transaction (for developers: a site
    restores its backup instead, see docs/operations.md)."""
    _run(command.downgrade, engine_or_url, revision)


def _run(
    alembic_command: Callable[[Config, str], None], engine_or_url: Engine | str, revision: str
) -> None:
    engine, owned = _engine(engine_or_url)
    try:
        cfg = config()
        with _migrating(engine) as connection:
            cfg.attributes["connection"] = connection
            alembic_command(cfg, revision)
    finally:
        if owned:
            engine.dispose()


def current(engine_or_url: Engine | str) -> str | None:
    """The database's revision, or ``None`` if it has never been migrated."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def head() -> str | None:
    """The newest revision shipped with this version of the adapter."""
    return ScriptDirectory.from_config(config()).get_current_head()


def revision(
    engine_or_url: Engine | str,
    message: str,
    *,
    rev_id: str | None = None,
    target_metadata: list[MetaData] | None = None,
) -> None:
    """Autogenerate a new revision by comparing ``engine_or_url`` (at head) with the tables.

    For developers, not deployments. Generate against an empty PostgreSQL database for the
    cleanest output (plain ``op.create_index``; server defaults without SQLite's parentheses).
    ``target_metadata`` defaults to env.py's ``PACKAGES`` (the store, the upload queue, the HL7
    message log, the upstream call log).
    """
    engine, owned = _engine(engine_or_url)
    try:
        cfg = config(target_metadata=target_metadata)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        if owned:
            engine.dispose()
