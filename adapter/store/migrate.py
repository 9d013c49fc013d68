"""Programmatic Alembic: no ``alembic.ini``, the script folder ships inside the package.

``upgrade(engine_or_url)`` brings a database to ``head`` (or a given revision);
``current(engine_or_url)`` says where it is (``None``: never migrated). Run at deploy time by
``wi-adapter migrate``; tests run it on fresh SQLite and PostgreSQL databases.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

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


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction."""
    engine, owned = _engine(engine_or_url)
    try:
        cfg = config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
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
