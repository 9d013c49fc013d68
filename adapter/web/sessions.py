"""Server-side sessions and their CSRF tokens.

A session lives ``idle`` after its last use and never longer than ``absolute`` after sign-in
(defaults: 30 minutes idle, 10 hours — one shift). The cookie holds a random token; the
table holds its SHA-256. Each session has its own CSRF token, which every form posts back
(:func:`adapter.web.auth.check_csrf`); the sign-in form, which has no session yet, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, case, delete, insert, select, update

from adapter.store.tables.web import web_session, web_user
from adapter.web.users import User, _user


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=10)


@dataclass(frozen=True)
class WebSession:
    user: User
    csrf_token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, user: User, policy: SessionPolicy) -> str:
    """A new session for ``user``; returns the cookie token (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(web_session).values(
                token_hash=_hash(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=min(now + policy.idle, now + policy.absolute),
                absolute_expires_at=now + policy.absolute,
            )
        )
    return token


def load_session(engine: Engine, token: str, policy: SessionPolicy) -> WebSession | None:
    """The live session for ``token`` (its idle expiry pushed forward), or ``None`` when it is
    unknown, expired (then deleted) or its user is disabled.

    The expiry is pushed forward first, by a write-only statement (and only when it moved by
    more than a minute): on SQLite a transaction that reads and then writes can fail at once
    with "database is locked" when another writer committed in between.
    """
    now = datetime.now(UTC)
    key = _hash(token)
    candidate = now + policy.idle
    pushed = case(
        (web_session.c.absolute_expires_at < candidate, web_session.c.absolute_expires_at),
        else_=candidate,
    )
    with engine.begin() as connection:
        connection.execute(
            update(web_session)
            .where(
                web_session.c.token_hash == key,
                web_session.c.expires_at > now,
                web_session.c.expires_at < candidate - timedelta(minutes=1),
            )
            .values(expires_at=pushed)
        )
    with engine.connect() as connection:
        row = connection.execute(
            select(
                web_user,
                web_session.c.csrf_token,
                web_session.c.expires_at,
            )
            .select_from(web_session)
            .join(web_user, web_user.c.id == web_session.c.user_id)
            .where(web_session.c.token_hash == key)
        ).first()
    if row is None:
        return None
    m = row._mapping
    if m["expires_at"] <= now or m["disabled"]:
        close_session(engine, token)
        return None
    return WebSession(_user(row), m["csrf_token"], m["expires_at"])


def close_session(engine: Engine, token: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(web_session).where(web_session.c.token_hash == _hash(token)))


def purge_expired(engine: Engine) -> int:
    with engine.begin() as connection:
        done = connection.execute(
            delete(web_session).where(web_session.c.expires_at <= datetime.now(UTC))
        )
    return int(done.rowcount or 0)


def end_other_sessions(engine: Engine, user_id: int, keep_token: str) -> int:
    """End every session of ``user_id`` but the one holding ``keep_token`` (a password change)."""
    with engine.begin() as connection:
        done = connection.execute(
            delete(web_session).where(
                web_session.c.user_id == user_id, web_session.c.token_hash != _hash(keep_token)
            )
        )
    return int(done.rowcount or 0)
