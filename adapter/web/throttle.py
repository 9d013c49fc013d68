"""Sign-in throttling: failed sign-ins counted per user name and per client address.

``[web] signin_max_failures`` wrong passwords for one user name within
``signin_window_minutes`` lock that name for ``signin_lockout_minutes``; the same for one
client address at ``signin_address_max_failures`` (a password-spraying address trying many
names). While locked, sign-in is refused without checking the password. A lockout ends by
itself, or when IT lifts it (``wi-adapter user unlock NAME`` / ``--address IP``). A successful
sign-in clears the user's count (not the address's). The counts live in
``web_signin_throttle`` so every instance sharing the database sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from adapter.store.db import immediate, is_sqlite
from adapter.store.tables.web import web_signin_throttle as throttle


@dataclass(frozen=True)
class ThrottlePolicy:
    user_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


def user_key(name: str) -> str:
    return "user:" + name.strip()[:190]


def address_key(address: str) -> str:
    return "address:" + address[:190]


def locked_until(engine: Engine, keys: list[str], now: datetime) -> datetime | None:
    """When the latest lockout among ``keys`` ends, if any is in force."""
    with engine.connect() as connection:
        found = connection.execute(
            select(throttle.c.locked_until).where(
                throttle.c.key.in_(keys), throttle.c.locked_until > now
            )
        ).scalars()
        ends = [end for end in found if end is not None]
    return max(ends) if ends else None


def record_failure(
    engine: Engine, key: str, limit: int, policy: ThrottlePolicy, now: datetime
) -> bool:
    """Count one failure for ``key``; True when this failure started a lockout."""
    if is_sqlite(engine):  # read then write: take the write lock first (no upgrade deadlock)
        engine = immediate(engine)
    stale = or_(throttle.c.window_started_at <= now - policy.window, throttle.c.locked_until <= now)
    for _ in range(3):
        with engine.begin() as connection:
            row = connection.execute(
                select(throttle.c.failures, throttle.c.window_started_at, throttle.c.locked_until)
                .where(throttle.c.key == key)
            ).first()  # fmt: skip
            if row is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(throttle).values(
                                key=key, failures=1, window_started_at=now, locked_until=None
                            )
                        )
                except IntegrityError:
                    continue  # another request counted first: count again on its row
                failures = 1
            else:
                connection.execute(
                    update(throttle).where(throttle.c.key == key, stale)
                    .values(failures=0, window_started_at=now, locked_until=None)
                )  # fmt: skip
                connection.execute(
                    update(throttle)
                    .where(throttle.c.key == key)
                    .values(failures=throttle.c.failures + 1)
                )
                failures = connection.execute(
                    select(throttle.c.failures).where(throttle.c.key == key)
                ).scalar_one()
            if failures < limit:
                return False
            started = connection.execute(
                update(throttle)
                .where(
                    throttle.c.key == key,
                    or_(throttle.c.locked_until.is_(None), throttle.c.locked_until <= now),
                )
                .values(locked_until=now + policy.lockout)
            )
            return started.rowcount == 1
    return False


def clear(engine: Engine, keys: list[str]) -> int:
    """Forget the counts and lift the lockouts of ``keys``; how many there were."""
    with engine.begin() as connection:
        return connection.execute(delete(throttle).where(throttle.c.key.in_(keys))).rowcount
