"""People who sign in to the desks: stored with a scrypt hash, roles as in the API.

Password hashes are ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (standard library
:func:`hashlib.scrypt`) at OWASP's current parameters: N=2**17, r=8, p=1 — 128 MiB and a few
hundred milliseconds per check (``maxmem`` raised to fit), so a stolen database does not
yield passwords cheaply. The cost is ``[web] password_hash_n``; the settings refuse less
than 2**17 outside the demo, and tests may lower it with :func:`set_hash_cost`. A hash made
with older (cheaper) parameters is replaced at the user's next successful sign-in. Checks
are constant-time, and an unknown user costs the same as a wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapter.domain.errors import DomainError, NotFound
from adapter.store.tables.web import web_session, web_user
from adapter.store.tokens import ROLE_LABELS, ROLES

OWASP_MIN_N = 2**17
_cost = {"n": OWASP_MIN_N, "r": 8, "p": 1}
MIN_PASSWORD = 8

# The demo's sign-in names, one per desk role (the HIS is a system, it has no person), and
# the settlement supervisor: a billing clerk who may also override the rehab-plan gate.
DEMO_USERS: dict[str, tuple[str, ...]] = {
    "入院处": ("admission",),
    "结算处": ("billing",),
    "结算主管": ("billing", "supervisor"),
    "器具室": ("device",),
    "信息科": ("it",),
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


def set_hash_cost(n: int) -> None:
    """Hash new passwords with scrypt cost ``n`` (a power of two). Start-up passes
    ``[web] password_hash_n`` (never below 2**17 outside the demo); tests may pass less."""
    if n < 2**10 or n & (n - 1):
        raise ValueError("the scrypt cost n must be a power of two, at least 1024")
    _cost["n"] = n


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * r * n * p
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2 * memory + 2**20
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    n, r, p = _cost["n"], _cost["r"], _cost["p"]
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def _parts(stored: str) -> tuple[int, int, int, bytes, str] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return None
        return int(n), int(r), int(p), bytes.fromhex(salt), digest
    except ValueError:
        return None


def check_password(password: str, stored: str) -> bool:
    parts = _parts(stored)
    if parts is None:
        return False
    n, r, p, salt, digest = parts
    return hmac.compare_digest(_scrypt(password, salt, n, r, p).hex(), digest)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other (older) parameters than the current ones."""
    parts = _parts(stored)
    return parts is None or parts[:3] != (_cost["n"], _cost["r"], _cost["p"])


_dummies: dict[int, str] = {}


def _dummy_hash() -> str:
    """Checked against when the user name is unknown, so both failures cost the same time."""
    n = _cost["n"]
    if n not in _dummies:
        _dummies[n] = hash_password(secrets.token_urlsafe(12))
    return _dummies[n]


def _roles(roles: list[str] | tuple[str, ...]) -> str:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise DomainError(
            f"角色须为 {', '.join(ROLES)} 之一（收到：{', '.join(unknown) or '无'}）",
            code="USER_ROLE_UNKNOWN",
        )
    return ",".join(dict.fromkeys(roles))


def _user(row: Row[Any]) -> User:
    m = row._mapping
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
    """IT's reset (``wi-adapter user reset-password``) and the demo's: no old password asked."""
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


def change_password(engine: Engine, user_id: int, old: str, new: str) -> None:
    """The user's own change: the current password first, then a new one (at least
    :data:`MIN_PASSWORD`, not the same). Other sessions of the user end."""
    with engine.connect() as connection:
        row = connection.execute(select(web_user).where(web_user.c.id == user_id)).first()
    if row is None:
        raise NotFound("用户不存在", code="USER_NOT_FOUND")
    if not check_password(old, row._mapping["password_hash"]):
        raise DomainError("当前密码不正确", code="USER_PASSWORD_WRONG")
    if len(new) < MIN_PASSWORD:
        raise DomainError(f"新密码至少{MIN_PASSWORD}位", code="USER_PASSWORD_SHORT")
    if new == old:
        raise DomainError("新密码不能与当前密码相同", code="USER_PASSWORD_UNCHANGED")
    with engine.begin() as connection:
        connection.execute(
            update(web_user)
            .where(web_user.c.id == user_id)
            .values(password_hash=hash_password(new))
        )


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if the name and password match and the user is enabled; else ``None``.
    A hash made with older parameters is replaced by one at the current cost."""
    with engine.connect() as connection:
        row = connection.execute(select(web_user).where(web_user.c.name == name.strip())).first()
    if row is None:
        check_password(password, _dummy_hash())
        return None
    stored = row._mapping["password_hash"]
    if not check_password(password, stored) or row._mapping["disabled"]:
        return None
    values: dict[str, object] = {"last_login_at": datetime.now(UTC)}
    if needs_rehash(stored):
        values["password_hash"] = hash_password(password)
    with engine.begin() as connection:
        connection.execute(update(web_user).where(web_user.c.id == row.id).values(values))
    return _user(row)


def create_demo_users(engine: Engine, password: str = DEMO_PASSWORD) -> dict[str, tuple[str, ...]]:
    """One user per desk (入院处, 结算处, 器具室, 信息科) and the settlement supervisor
    (结算主管), all with ``password``; users that already exist get the password again.
    Returns ``{name: roles}`` for the demo to print."""
    for name, roles in DEMO_USERS.items():
        if find_user(engine, name) is None:
            create_user(engine, name, list(roles), password)
        else:
            set_password(engine, name, password)
            with engine.begin() as connection:
                connection.execute(
                    update(web_user).where(web_user.c.name == name).values(disabled=False)
                )
    return dict(DEMO_USERS)
