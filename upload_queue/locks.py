"""Run-once-across-instances: a PostgreSQL advisory lock held for one transaction.

:func:`try_exclusive` takes ``pg_try_advisory_xact_lock`` on the caller's open transaction:
``True`` means this instance may do the work now, ``False`` that another instance is doing
it; the lock is released when the transaction ends, so a crash never leaves it held. On
SQLite (one instance by design) it is always ``True``.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same on every instance and run)."""
    digest = hashlib.blake2b(f"upload_queue:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_exclusive(connection: Connection, name: str) -> bool:
    if connection.dialect.name != "postgresql":
        return True
    taken = connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
    ).scalar_one()
    return bool(taken)
