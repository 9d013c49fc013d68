"""API tokens: one per user or workstation, with roles; only a hash is stored.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to keep a stolen database
from yielding usable tokens (a slow password hash buys nothing against that entropy, and
every request would pay for it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from adapter.domain.errors import DomainError, NotFound
from adapter.store.tables.tokens import ApiTokenRow

# The supervisor opens nothing on its own: held with billing (or by the HIS's token), it lets
# a rehab stay be settled before its plan reached upstream (N§33 "原则上"), with a reason.
SUPERVISOR = "supervisor"
ROLES = ("admission", "billing", "device", "it", "his", SUPERVISOR)
ROLE_LABELS = {
    "admission": "入院登记",
    "billing": "结算收费",
    "device": "辅助器具配置",
    "it": "信息科",
    "his": "HIS 系统接口",
    SUPERVISOR: "结算主管",
}
# The roles that open routes and desks: "any role" means one of these.
DUTIES = tuple(r for r in ROLES if r != SUPERVISOR)
TOKEN_PREFIX = "wi_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, a workstation, or the HIS."""

    name: str
    roles: frozenset[str]
    token_id: int = 0


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    roles: tuple[str, ...]
    hint: str
    created_at: datetime
    revoked: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise DomainError(
            f"角色须为 {', '.join(ROLES)} 之一（收到：{', '.join(unknown) or '无'}）",
            code="TOKEN_ROLE_UNKNOWN",
        )
    return tuple(dict.fromkeys(roles))


def create_token(
    engine: Engine, name: str, roles: list[str], now: datetime, token: str | None = None
) -> str:
    """Store a new token for ``name`` and return it; it is shown once and never again."""
    checked = _check_roles(roles)
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session:
        session.add(
            ApiTokenRow(
                name=name,
                roles=",".join(checked),
                token_hash=hash_token(token),
                hint=token[-4:],
                created_at=now,
            )
        )
        session.commit()
    return token


def authenticate(engine: Engine, token: str) -> Principal | None:
    with Session(engine) as session:
        row = session.exec(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token))
        ).first()
    if row is None or row.revoked:
        return None
    return Principal(row.name, frozenset(filter(None, row.roles.split(","))), row.id or 0)


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with Session(engine) as session:
        rows = session.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.id))).all()
    return [
        TokenInfo(
            row.id or 0,
            row.name,
            tuple(row.roles.split(",")),
            row.hint,
            row.created_at,
            row.revoked,
        )
        for row in rows
    ]


def revoke_token(engine: Engine, token_id: int, now: datetime) -> None:
    with Session(engine) as session:
        result = session.execute(
            update(ApiTokenRow)
            .where(col(ApiTokenRow.id) == token_id)
            .values(revoked=True, revoked_at=now)
        )
        # why: an UPDATE's Result is a CursorResult at run time, which has rowcount
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"令牌 {token_id} 不存在", code="TOKEN_NOT_FOUND")
        session.commit()
