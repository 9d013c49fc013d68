"""``user create|list|disable|unlock|reset-password``: the people who sign in to the desks.

``user create --name 入院处-01 --role admission`` asks for the password twice on a terminal;
``--password-stdin`` reads it from the first line of standard input (for scripts).
``user unlock NAME`` lifts a sign-in lockout (``--address IP`` one of a client address);
``user reset-password NAME`` sets a new password (IT, for a user who forgot theirs) and ends
the user's sessions. Both are audited with the operating-system user as the actor.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from adapter.cli.database import open_migrated
from adapter.cli.events import actor, changed
from adapter.cli.output import dump, local, pad
from adapter.domain.errors import DomainError
from adapter.settings import load_settings
from adapter.store.tokens import ROLES
from adapter.store.uow import UnitOfWork
from adapter.web.sessions import end_other_sessions
from adapter.web.throttle import address_key, clear, user_key
from adapter.web.users import create_user, disable_user, find_user, list_users, set_password


def register(subparsers: Any) -> None:
    user = subparsers.add_parser("user", help="manage users of the web desks")
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a user")
    create.add_argument("--name", required=True, help="sign-in name, e.g. 入院处-01")
    create.add_argument(
        "--role", action="append", required=True, choices=ROLES, help="repeat for several roles"
    )
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    disable = actions.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("name")
    disable.set_defaults(handler=_disable)
    unlock = actions.add_parser("unlock", help="lift a sign-in lockout (user or address)")
    unlock.add_argument("name", nargs="?", default="", help="the user name")
    unlock.add_argument("--address", default="", help="a client address to unlock as well")
    unlock.set_defaults(handler=_unlock)
    reset = actions.add_parser("reset-password", help="set a new password for a user")
    reset.add_argument("name")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    reset.set_defaults(handler=_reset)


@contextmanager
def _engine() -> Iterator[Engine]:
    # Never migrates: against a mistyped [database] url, migrating would create a fresh
    # database and a user in it that the desks never see. `serve` and `migrate` migrate.
    engine = open_migrated(load_settings().database.url)
    try:
        yield engine
    finally:
        engine.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码: ")
    if first != getpass.getpass("再次输入密码: "):
        raise DomainError("两次输入的密码不一致", code="USER_PASSWORD_MISMATCH")
    return first


def _create(args: argparse.Namespace) -> int:
    # The database first: a wrong one is refused before the password is asked twice.
    with _engine() as engine:
        user = create_user(engine, args.name, args.role, _password(args.password_stdin))
    changed("user.created", user=user.name, roles=sorted(user.roles))
    print(f"user {user.id} {user.name} created ({','.join(sorted(user.roles))})")
    return 0


def _list(args: argparse.Namespace) -> int:
    zone = load_settings().zone
    with _engine() as engine:
        users = list_users(engine)
    if args.json:
        dump(
            [
                {"id": u.id, "name": u.name, "roles": sorted(u.roles), "disabled": u.disabled,
                 "last_login_at": u.last_login_at}
                for u in users
            ],
            zone,
        )  # fmt: skip
        return 0
    print(f"{'id':>4}  {pad('name', 20)} {'roles':<28} {'last sign-in':<19}  status")
    for user in users:
        status = "disabled" if user.disabled else "active"
        print(
            f"{user.id:>4}  {pad(user.name, 20)} {','.join(sorted(user.roles)):<28} "
            f"{local(user.last_login_at, zone):<19}  {status}"
        )
    return 0


def _disable(args: argparse.Namespace) -> int:
    with _engine() as engine:
        disable_user(engine, args.name)
    changed("user.disabled", user=args.name)
    print(f"user {args.name} disabled")
    return 0


def _audit(engine: Engine, action: str, subject_type: str, subject_id: str, **details: Any) -> None:
    with UnitOfWork(engine) as uow:
        uow.audit.append(actor=actor(), role="it", action=action, subject_type=subject_type,
                         subject_id=subject_id, details=details)  # fmt: skip
        uow.commit()


def _unlock(args: argparse.Namespace) -> int:
    if not args.name and not args.address:
        raise DomainError("请给出用户名或 --address", code="USER_UNLOCK_NOTHING")
    with _engine() as engine:
        if args.name and find_user(engine, args.name) is None:
            raise DomainError(f"用户“{args.name}”不存在", code="USER_NOT_FOUND")
        keys = [user_key(args.name)] if args.name else []
        keys += [address_key(args.address)] if args.address else []
        lifted = clear(engine, keys)
        if args.name:
            _audit(engine, "user.unlock", "web_user", args.name, cleared=lifted)
        if args.address:
            _audit(engine, "user.unlock", "address", args.address, cleared=lifted)
    changed("user.unlocked", user=args.name, address=args.address, cleared=lifted)
    print(f"unlocked {' and '.join(filter(None, [args.name, args.address]))}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    with _engine() as engine:
        set_password(engine, args.name, _password(args.password_stdin))
        user = find_user(engine, args.name)
        assert user is not None
        end_other_sessions(engine, user.id, "")
        clear(engine, [user_key(args.name)])
        _audit(engine, "user.password_reset", "web_user", args.name)
    changed("user.password_reset", user=args.name)
    print(f"password of {args.name} reset; their sessions ended")
    return 0
