"""Shared fixtures: real databases.

``db_url`` gives each test a fresh, empty database on each backend: a SQLite file in the
test's temporary folder, and a new PostgreSQL database on the server named by
``ADAPTER_TEST_PG_URL`` (default: the loopback server, database ``test``, trust auth).
PostgreSQL cases are skipped when the server does not answer, except under ``CI=true``,
where an unreachable server fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from adapter.store.db import make_engine
from scripts.scratch_db import create_database, default_admin_url, drop_database, unreachable

BACKENDS = ("sqlite", "postgresql")


def pg_admin_url() -> str:
    return default_admin_url()


_pg_state: dict[str, object] = {}


def _pg_reachable() -> bool:
    if "ok" not in _pg_state:
        why = unreachable(pg_admin_url())
        _pg_state["ok"] = why is None
        _pg_state["why"] = why
    return bool(_pg_state["ok"])


def require_pg() -> None:
    if _pg_reachable():
        return
    where = make_url(pg_admin_url()).render_as_string()
    why = f"PostgreSQL at {where} unreachable: {_pg_state['why']}"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def create_pg_database() -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    require_pg()
    return create_database(pg_admin_url(), "wi_test")


def drop_pg_database(url: str) -> None:
    drop_database(pg_admin_url(), url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/adapter.db"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh empty PostgreSQL database, for what only PostgreSQL has (several instances on
    one server, its session settings)."""
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    # NORMAL: a fixture's database never lives through a power cut (the product syncs: FULL)
    engine = make_engine(db_url, sqlite_synchronous="normal")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(autouse=True, scope="session")
def _audit_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One audit key file for the whole run: in-process appends sign with it, and adapter
    processes the tests start read it too (``ADAPTER_AUDIT__KEY_FILE``, passed to children
    by :func:`tests.reliability.support._child_env`), as instances sharing a database must."""
    from adapter.store.audit import install_keyring
    from adapter.store.audit_keys import create_key_file

    path = tmp_path_factory.mktemp("audit-key") / "audit.key"
    install_keyring(create_key_file(path))
    saved = os.environ.get("ADAPTER_AUDIT__KEY_FILE")
    os.environ["ADAPTER_AUDIT__KEY_FILE"] = str(path)
    yield
    if saved is None:
        os.environ.pop("ADAPTER_AUDIT__KEY_FILE", None)
    else:
        os.environ["ADAPTER_AUDIT__KEY_FILE"] = saved
