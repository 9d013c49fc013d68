"""Scratch PostgreSQL databases for the tests, the benchmarks and the soak scripts.

Each run gets a new, empty database on the server an *admin URL* names (any database on
that server the role may ``CREATE DATABASE`` from), and drops it afterwards — ``WITH
(FORCE)``, so a connection a failed run left open does not keep it behind.

The three users run from a checkout, never from the installed wheel, so this lives under
``scripts/`` (importable from the repository root, like :mod:`scripts.rules_table`) rather
than in the product: the adapter itself never creates or drops a database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL_ENV = "ADAPTER_TEST_PG_URL"
LOOPBACK_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def default_admin_url() -> str:
    """``$ADAPTER_TEST_PG_URL``, or the loopback server's ``test`` database (trust auth)."""
    return os.environ.get(ADMIN_URL_ENV, LOOPBACK_ADMIN_URL)


def unreachable(admin_url: str) -> str | None:
    """Why the server does not answer (its error's first line), or ``None`` when it does."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect: the caller skips or fails the run
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    finally:
        engine.dispose()
    return None


def create_database(admin_url: str, prefix: str = "wi_scratch") -> str:
    """A new, empty database named ``{prefix}_{random}`` on ``admin_url``'s server; its URL
    (same role, password included, so it can be handed to a child process)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names, on ``admin_url``'s server (gone already: nothing)."""
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextmanager
def scratch_database(admin_url: str, prefix: str = "wi_scratch") -> Iterator[str]:
    """The URL of a new, empty database, dropped on leaving (the run failing included)."""
    url = create_database(admin_url, prefix)
    try:
        yield url
    finally:
        drop_database(admin_url, url)


def _admin(admin_url: str, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
