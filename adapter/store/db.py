"""Engines for the two supported databases.

SQLite (the embedded default, one instance) runs in WAL mode so readers never block the
writer, with a busy timeout so concurrent writers queue instead of failing at once.
PostgreSQL (several instances) gets pre-ping so a restarted server costs one retry, not an error.

**Durable before it is acknowledged.** SQLite's ``synchronous`` is ``FULL`` by default: a
commit is on disk (the WAL synced) before the adapter answers the HIS's ACK, a clerk's page or
a REST caller. ``NORMAL`` is faster but a power cut or an OS crash may lose the last
transactions after they were acknowledged — the HIS does not resend an acknowledged message,
so a fee line would be missing from the bill. ``[database] sqlite_synchronous`` chooses; only
test fixtures, which never lose power, ask for ``NORMAL``.

**One sync per HL7 message** (:func:`deferred_sync`). In WAL mode the log is append-only and
a sync writes every frame before it to the disk, whichever connection wrote it. So the commits
an inbound HL7 message makes *before* the one that stores its ACK (its receipt in the message
log; the effect of an A08 or a DFT^P03) may skip their own sync: if the power fails before the
ACK's commit is synced, no ACK was sent and the HIS resends (the log's dedupe and the use
cases' replay take it); once the ACK is sent, its synced commit carried everything before it.
The HL7 pipeline marks those steps with :func:`deferred_sync` (a context variable: only the
thread that set it, never a REST call or a queue worker on another thread); the ``begin``
listener runs such a transaction at ``synchronous=NORMAL``, every other at the configured
level, and a connection goes back to the pool at the configured level. Only when that level
is ``FULL``; PostgreSQL is untouched.

**Several HL7 messages, one commit** (:func:`one_transaction`). SQLite has one writer, so
messages that only write (ADT^A08) go faster when one thread runs several senders' messages in
one transaction and syncs it once (a group commit, :mod:`connectors.hl7.group_commit`). Inside
``one_transaction`` a unit of work joins that transaction instead of beginning its own, in a
savepoint (its commit releases it, its rollback undoes only its own writes), and the HL7
message log writes in it directly; nothing is durable, or acknowledged, before the one commit
at the end.

**The pool.** ``pool_size``, ``max_overflow`` and ``pool_timeout`` (``[database]`` in
adapter.toml) bound the connections this process holds. No use case holds a connection while
it waits on upstream, so a connection is busy for milliseconds; when all are busy anyway, a
caller waits ``pool_timeout`` seconds and then gets :class:`PoolExhausted` (SQLAlchemy's pool
``TimeoutError``), which the API answers 503 ``DATABASE_BUSY`` and HL7 an AE — never a 500.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolExhausted

__all__ = [
    "PoolExhausted",
    "Savepoint",
    "deferred_sync",
    "immediate",
    "is_pool_exhausted",
    "is_sqlite",
    "joined_transaction",
    "make_engine",
    "one_transaction",
    "ping",
]

_POOL_OPTIONS = ("pool_size", "max_overflow", "pool_timeout")
SYNCHRONOUS = ("full", "normal")
_LEVEL = "sqlite_synchronous"  # a pooled connection's current PRAGMA synchronous, in its info
_DEFERRED: ContextVar[bool] = ContextVar("sqlite_sync_deferred", default=False)
_JOINED: ContextVar[Connection | None] = ContextVar("joined_transaction", default=None)


@contextmanager
def deferred_sync() -> Iterator[None]:
    """SQLite transactions begun inside (in this thread) commit without a sync of their own,
    when the engine syncs every commit: for commits a later synced commit of the same thread
    makes durable before anything is acknowledged (see the module's docstring)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


@contextmanager
def one_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite) that units of work (each in a
    savepoint) and the HL7 message log begun inside, in this thread and on ``engine``, join;
    committed (and synced as configured) when the block ends, rolled back whole if it raises.
    Give it :func:`immediate` of the engine where it runs often (one copy, not one a call)."""
    if engine.get_execution_options().get("sqlite_begin") != "IMMEDIATE":
        engine = immediate(engine)
    with engine.begin() as connection:
        token = _JOINED.set(connection)
        try:
            yield connection
        finally:
            _JOINED.reset(token)


def immediate(engine: Engine) -> Engine:
    """``engine`` whose transactions begin with ``BEGIN IMMEDIATE`` on SQLite (the write lock
    from the first statement); the same connections, pool and settings."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def joined_transaction(engine: Engine) -> Connection | None:
    """The :func:`one_transaction` on ``engine`` this thread is inside, if any."""
    connection = _JOINED.get()
    if connection is None or connection.engine.pool is not engine.pool:
        return None
    return connection


_SAVEPOINTS = itertools.count(1)


class Savepoint:
    """A savepoint of a :func:`one_transaction`, for one unit of work inside it.

    Issued on the driver's cursor: SQLAlchemy compiles a savepoint statement anew each time,
    which costs more than an ADT^A08's own statements. A unit of work, which may write and then
    refuse, needs one; the HL7 message log inside the group commit does not (SQLite undoes a
    failed statement alone, and anything else rolls the whole group back)."""

    def __init__(self, connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None  # a checked-out connection in a transaction
        self._cursor = driver.cursor()
        self._error = connection.dialect.loaded_dbapi.Error
        self._name = f"uow_{next(_SAVEPOINTS)}"
        self._cursor.execute(f"SAVEPOINT {self._name}")

    def release(self) -> None:
        self._cursor.execute(f"RELEASE SAVEPOINT {self._name}")

    def rollback(self) -> None:
        """Undo the unit's writes. If the database already rolled the whole transaction back
        (SQLite on a full disk), there is nothing to undo: the joined commit fails and says so."""
        try:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {self._name}")
            self._cursor.execute(f"RELEASE SAVEPOINT {self._name}")
        except self._error:
            pass  # the savepoint went with the transaction; the use case's error propagates


def make_engine(
    url: str, *, sqlite_synchronous: str = "full", pg_dead_peer_s: int = 60, **kwargs: Any
) -> Engine:
    """An engine for ``url``; ``pool_size``, ``max_overflow``, ``pool_timeout`` size its pool;
    ``sqlite_synchronous`` (``full`` or ``normal``) is SQLite's durability of a commit;
    ``pg_dead_peer_s`` (PostgreSQL; 0: the operating system's) how soon a connection whose
    other end went silent is closed (:func:`_keepalives`)."""
    if sqlite_synchronous not in SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {SYNCHRONOUS}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _database_file(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:  # one shared in-memory connection: no pool to size
            kwargs = {k: v for k, v in kwargs.items() if k not in _POOL_OPTIONS}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        level = sqlite_synchronous.upper()
        event.listen(engine, "connect", partial(_sqlite_pragmas, level))
        # pysqlite's own transaction handling defers BEGIN; take it over so BEGIN IMMEDIATE
        # can be issued where a use case must hold the write lock from its first read.
        event.listen(engine, "begin", partial(_sqlite_begin, level))
        event.listen(engine, "checkin", partial(_sqlite_checkin, level))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pg_dead_peer_s > 0:
        kwargs["connect_args"] = {**_keepalives(pg_dead_peer_s), **kwargs.get("connect_args", {})}
    return create_engine(url, **kwargs)


def _keepalives(dead_peer_s: int) -> dict[str, Any]:
    """TCP keep-alive probes on both ends of each PostgreSQL connection, so a silent peer is
    given up after about ``dead_peer_s`` seconds (idle half of it, then 3 unanswered probes).

    The server's side matters most: when an instance's host loses power, PostgreSQL keeps its
    sessions — and the row and advisory locks they hold (a stay being settled, a scheduled
    run) — until the operating system's keep-alive gives up, two hours by default. The
    server's settings are per session (``options``); the client's are libpq's."""
    idle = max(dead_peer_s // 2, 1)
    interval = max((dead_peer_s - idle) // 3, 1)
    server = (
        f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
        "-c tcp_keepalives_count=3"
    )
    return {
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": 3,
        "options": server,
    }


def _database_file(database: str) -> Path:
    """The file a SQLite URL names: a ``file:`` URI (``?uri=true``, e.g. read-only) names it
    after its scheme, and a folder named ``file:…`` must not appear where the process runs."""
    if database.startswith("file:"):
        return Path(database.removeprefix("file:").split("?", 1)[0])
    return Path(database)


def _sqlite_pragmas(synchronous: str, dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    if record is not None:
        record.info[_LEVEL] = synchronous


def _sqlite_begin(configured: str, connection: Any) -> None:
    # The level a commit syncs at is the connection's when it commits; set it before BEGIN,
    # and only when it changes (most transactions keep the connection's level).
    wanted = "NORMAL" if configured == "FULL" and _DEFERRED.get() else configured
    info = connection.info
    if info.get(_LEVEL, configured) != wanted:
        connection.exec_driver_sql(f"PRAGMA synchronous={wanted}")
        info[_LEVEL] = wanted
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_checkin(configured: str, dbapi_connection: Any, record: Any) -> None:
    """Back in the pool at the configured level: whoever checks it out next, even without a
    ``begin`` (a raw DBAPI use), commits as configured."""
    if dbapi_connection is None or record.info.get(_LEVEL, configured) == configured:
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA synchronous={configured}")
    cursor.close()
    record.info[_LEVEL] = configured


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_pool_exhausted(exc: BaseException) -> bool:
    """Did every pooled connection stay busy for the whole ``pool_timeout``?"""
    return isinstance(exc, PoolExhausted)
