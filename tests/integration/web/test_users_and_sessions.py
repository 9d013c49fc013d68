"""Users and sessions on both databases: hashed passwords, sign-in, expiry, disabling, CLI."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from adapter.cli import main
from adapter.domain.errors import DomainError
from adapter.store.migrate import upgrade
from adapter.store.tables.web import web_session, web_user
from adapter.web.sessions import SessionPolicy, close_session, load_session, open_session
from adapter.web.users import (
    DEMO_USERS,
    authenticate,
    check_password,
    create_demo_users,
    create_user,
    disable_user,
    find_user,
    hash_password,
)


@pytest.fixture
def db(engine: Engine) -> Engine:
    upgrade(engine)  # the migrations carry the web tables, as `wi-adapter user` expects
    return engine


def test_a_password_is_stored_as_a_salted_scrypt_hash_at_owasp_cost() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first.startswith("scrypt$131072$8$1$") and first != second  # salted, N = 2**17
    assert "s3cret-pass" not in first
    assert check_password("s3cret-pass", first) and not check_password("s3cret-pasS", first)
    assert not check_password("anything", "md5$abc")


def test_users_sign_in_with_their_password_only(db: Engine) -> None:
    user = create_user(db, "结算处-01", ["billing"], "long-enough-1")
    with db.connect() as connection:
        stored = connection.execute(select(web_user.c.password_hash)).scalar_one()
    assert "long-enough-1" not in stored
    signed_in = authenticate(db, "结算处-01", "long-enough-1")
    assert signed_in is not None and signed_in.id == user.id
    assert authenticate(db, "结算处-01", "wrong-password") is None
    assert authenticate(db, "nobody", "long-enough-1") is None
    assert user.roles == {"billing"}
    assert find_user(db, "结算处-01").last_login_at is not None  # type: ignore[union-attr]
    with pytest.raises(DomainError, match="已存在"):
        create_user(db, "结算处-01", ["billing"], "long-enough-1")
    with pytest.raises(DomainError, match="角色"):
        create_user(db, "x", ["cashier"], "long-enough-1")
    with pytest.raises(DomainError, match="至少8位"):
        create_user(db, "y", ["it"], "short")


def test_a_session_lives_while_used_and_never_beyond_its_shift(db: Engine) -> None:
    user = create_user(db, "入院处-01", ["admission"], "long-enough-1")
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    token = open_session(db, user, policy)
    found = load_session(db, token, policy)
    assert found is not None and found.user.name == "入院处-01" and len(found.csrf_token) >= 24
    with db.connect() as connection:
        assert connection.execute(select(web_session.c.token_hash)).scalar_one() != token
    assert load_session(db, "not-a-token", policy) is None

    # Used again after 20 idle minutes (of 30): the idle expiry moves forward.
    with db.begin() as connection:
        connection.execute(
            update(web_session).values(expires_at=datetime.now(UTC) + timedelta(minutes=10))
        )
    again = load_session(db, token, policy)
    assert again is not None and again.expires_at > datetime.now(UTC) + timedelta(minutes=29)

    # ...but never beyond the absolute expiry.
    end = datetime.now(UTC) + timedelta(minutes=5)
    with db.begin() as connection:
        connection.execute(
            update(web_session).values(
                absolute_expires_at=end, expires_at=datetime.now(UTC) + timedelta(minutes=1)
            )
        )
    capped = load_session(db, token, policy)
    assert capped is not None and capped.expires_at == end

    with db.begin() as connection:
        connection.execute(update(web_session).values(expires_at=datetime.now(UTC)))
    assert load_session(db, token, policy) is None
    with db.connect() as connection:  # an expired session is deleted when seen
        assert connection.execute(select(web_session)).first() is None


def test_disabling_a_user_ends_their_sessions_and_sign_in(db: Engine) -> None:
    user = create_user(db, "器具室-01", ["device"], "long-enough-1")
    policy = SessionPolicy()
    token = open_session(db, user, policy)
    disable_user(db, "器具室-01")
    assert load_session(db, token, policy) is None
    assert authenticate(db, "器具室-01", "long-enough-1") is None
    other = open_session(db, create_user(db, "信息科-01", ["it"], "long-enough-1"), policy)
    close_session(db, other)
    assert load_session(db, other, policy) is None


def test_demo_users_can_sign_in_with_the_demo_password(db: Engine) -> None:
    create_demo_users(db)
    create_demo_users(db, "another-pass")  # a second demo run resets the password
    for name, roles in DEMO_USERS.items():
        user = authenticate(db, name, "another-pass")
        assert user is not None and user.roles == set(roles)
    supervisor = authenticate(db, "结算主管", "another-pass")  # bills, and may override
    assert supervisor is not None and supervisor.roles == {"billing", "supervisor"}


def test_the_user_cli_creates_lists_and_disables(
    db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(db)
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-password-1\n"))
    assert main(["user", "create", "--name", "结算处-02", "--role", "billing",
                 "--role", "it", "--password-stdin"]) == 0  # fmt: skip
    assert authenticate(db, "结算处-02", "cli-password-1") is not None
    assert main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "结算处-02" in listed and "billing,it" in listed and "cli-password-1" not in listed
    assert main(["user", "disable", "结算处-02"]) == 0
    assert authenticate(db, "结算处-02", "cli-password-1") is None
    assert main(["user", "disable", "nobody"]) == 1


def test_the_cli_makes_a_settlement_supervisor_a_user_and_a_token(
    db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """结算主管 is a role the CLI knows (N§33's override is theirs): a billing user holding it
    signs in with both, and a token made for it carries both."""
    from adapter.store.tokens import authenticate as by_token

    upgrade(db)
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-password-1\n"))
    assert main(["user", "create", "--name", "结算主管-01", "--role", "billing",
                 "--role", "supervisor", "--password-stdin"]) == 0  # fmt: skip
    user = authenticate(db, "结算主管-01", "cli-password-1")
    assert user is not None and user.roles == {"billing", "supervisor"}
    assert user.role_labels == "结算收费、结算主管"
    capsys.readouterr()
    assert main(["token", "create", "--name", "结算主管-01", "--role", "billing",
                 "--role", "supervisor"]) == 0  # fmt: skip
    principal = by_token(db, capsys.readouterr().out.strip())
    assert principal is not None and principal.roles == {"billing", "supervisor"}
