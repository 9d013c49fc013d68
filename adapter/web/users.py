"""People who sign in to the desks: stored with a scrypt hash, roles as in the API.

Password hashes are ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (standard library
:func:`hashlib.scrypt`, N=2**14, r=8, p=1: about 16 MiB and a few tens of milliseconds per
check, so a stolen database does not yield passwords cheaply). Checks are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapter.domain.errors import DomainError, NotFound
from adapter.store.tokens import ROLE_LABELS, ROLES
from adapter.web.tables import web_session, web_user

_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 8

# The demo's sign-in names, one per desk role (the HIS is a system, it has no person).
DEMO_USERS = {
    "入院处": "admission",
    "结算处": "billing",
    "器具室": "device",
    "信息科": "it",
}
DEMO_PASSWORD = "demo-2026"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    roles: frozenset[str]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def role_labels(self) -> str:
        return "、".join(ROLE_LABELS.get(r, r) for r in sorted(self.roles))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


# Checked against when the user name is unknown, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


def _roles(roles: list[str] | tuple[str, ...]) -> str:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise DomainError(
            f"角色须为 {', '.join(ROLES)} 之一（收到：{', '.join(unknown) or '无'}）",
            code="USER_ROLE_UNKNOWN",
        )
    return ",".join(dict.fromkeys(roles))


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        m["id"],
        m["name"],
        frozenset(filter(None, m["roles"].split(","))),
        bool(m["disabled"]),
        m["created_at"],
        m["last_login_at"],
    )


def create_user(engine: Engine, name: str, roles: list[str], password: str) -> User:
    """Store a new user; a name already taken or a short password is a :class:`DomainError`."""
    name = name.strip()
    if not name:
        raise DomainError("用户名不能为空", code="USER_NAME_EMPTY")
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"密码至少{MIN_PASSWORD}位", code="USER_PASSWORD_SHORT")
    values = {
        "name": name,
        "roles": _roles(roles),
        "password_hash": hash_password(password),
        "disabled": False,
        "created_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as connection:
            connection.execute(insert(web_user).values(values))
    except IntegrityError as exc:
        raise DomainError(f"用户名“{name}”已存在", code="USER_EXISTS") from exc
    found = find_user(engine, name)
    assert found is not None
    return found


def find_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(select(web_user).where(web_user.c.name == name)).first()
    return _user(row) if row else None


def get_user(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(select(web_user).where(web_user.c.id == user_id)).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as connection:
        rows = connection.execute(select(web_user).order_by(web_user.c.id)).all()
    return [_user(row) for row in rows]


def disable_user(engine: Engine, name: str) -> None:
    """Disable a user and end every session they hold."""
    with engine.begin() as connection:
        row = connection.execute(select(web_user.c.id).where(web_user.c.name == name)).first()
        if row is None:
            raise NotFound(f"用户“{name}”不存在", code="USER_NOT_FOUND")
        connection.execute(update(web_user).where(web_user.c.id == row.id).values(disabled=True))
        connection.execute(delete(web_session).where(web_session.c.user_id == row.id))


def set_password(engine: Engine, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"密码至少{MIN_PASSWORD}位", code="USER_PASSWORD_SHORT")
    with engine.begin() as connection:
        done = connection.execute(
            update(web_user)
            .where(web_user.c.name == name)
            .values(password_hash=hash_password(password))
        )
        if done.rowcount == 0:
            raise NotFound(f"用户“{name}”不存在", code="USER_NOT_FOUND")


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if the name and password match and the user is enabled; else ``None``."""
    with engine.connect() as connection:
        row = connection.execute(select(web_user).where(web_user.c.name == name.strip())).first()
    if row is None:
        check_password(password, _DUMMY_HASH)
        return None
    if not check_password(password, row._mapping["password_hash"]) or row._mapping["disabled"]:
        return None
    with engine.begin() as connection:
        connection.execute(
            update(web_user).where(web_user.c.id == row.id).values(last_login_at=datetime.now(UTC))
        )
    return _user(row)


def create_demo_users(engine: Engine, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """One user per desk (入院处, 结算处, 器具室, 信息科), all with ``password``; users that
    already exist get the password again. Returns ``{name: role}`` for the demo to print."""
    for name, role in DEMO_USERS.items():
        if find_user(engine, name) is None:
            create_user(engine, name, [role], password)
        else:
            set_password(engine, name, password)
            with engine.begin() as connection:
                connection.execute(
                    update(web_user).where(web_user.c.name == name).values(disabled=False)
                )
    return dict(DEMO_USERS)
