"""Write transactions of the queue: how its writers of one database take turns.

On PostgreSQL a write transaction is an ordinary one; rows are claimed ``FOR UPDATE SKIP
LOCKED`` by the statements that need them. On SQLite (one instance) :func:`begin_write`
starts transactions with ``BEGIN IMMEDIATE``, so a writer holds the write lock from its first
read, and :func:`write_transaction` also serializes the queue's own writers of one SQLite file
inside the process, so they queue on a lock instead of polling SQLite's busy handler (which
sleeps up to 100 ms between tries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


def begin_write(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock up front on SQLite."""
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.execution_options(sqlite_begin="IMMEDIATE")
    return connection


_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _process_lock(connection: Connection) -> threading.Lock | None:
    """The in-process lock of this SQLite database file (``None`` on PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return None
    name = connection.engine.url.database or ":memory:"
    with _file_locks_guard:
        return _file_locks.setdefault(name, threading.Lock())


@contextmanager
def write_transaction(connection: Connection) -> Iterator[Connection]:
    """A transaction on ``connection`` (from :func:`begin_write`) that commits on success.

    On SQLite the queue's own writers of one file take turns on an in-process lock first.
    """
    lock = _process_lock(connection)
    if lock is None:
        with connection.begin():
            yield connection
        return
    with lock, connection.begin():
        yield connection
