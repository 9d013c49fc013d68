"""The web face's tables: desk users, their sessions, the sign-in throttle (Core ``Table``
objects on the store's one ``SQLModel.metadata``).

``web_user``
    People who sign in to the desks: a unique ``name``, the roles of the API
    (:data:`adapter.store.tokens.ROLES`, comma-separated), a scrypt ``password_hash``
    (see :mod:`adapter.web.users`) and a ``disabled`` flag (disabling also ends sessions).
``web_session``
    Server-side sessions. The browser holds a random token in an HttpOnly cookie; only its
    SHA-256 is stored (``token_hash``), so a copy of the database opens no session. Each
    session has its CSRF token, an absolute expiry and an idle expiry (``expires_at`` is
    pushed forward on use, never beyond ``absolute_expires_at``).
``web_signin_throttle``
    Failed sign-ins per ``key`` (``user:<name>`` or ``address:<ip>``) within the current
    window, and ``locked_until`` once they reach the limit (see :mod:`adapter.web.throttle`).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    false,
)
from sqlmodel import SQLModel

from adapter.store.tables._common import BigId
from adapter.store.types import UTCDateTime

metadata = SQLModel.metadata

web_user = Table(
    "web_user",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("roles", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_login_at", UTCDateTime(), nullable=True),
)

web_session = Table(
    "web_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id", BigId, ForeignKey("web_user.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("absolute_expires_at", UTCDateTime(), nullable=False),
)

web_signin_throttle = Table(
    "web_signin_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
)
