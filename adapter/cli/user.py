"""``user create|list|disable``: the people who sign in to the desks (passwords stored hashed).

``user create --name 入院处-01 --role admission`` asks for the password twice on a terminal;
``--password-stdin`` reads it from the first line of standard input (for scripts).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from adapter.cli.output import dump, local, pad
from adapter.domain.errors import DomainError
from adapter.settings import load_settings
from adapter.store.db import make_engine
from adapter.store.tokens import ROLES
from adapter.web.users import create_user, disable_user, list_users


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


@contextmanager
def _engine() -> Iterator[Engine]:
    from adapter.store.migrate import upgrade

    engine = make_engine(load_settings().database.url)
    try:
        upgrade(engine)
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
    password = _password(args.password_stdin)
    with _engine() as engine:
        user = create_user(engine, args.name, args.role, password)
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
    print(f"user {args.name} disabled")
    return 0
