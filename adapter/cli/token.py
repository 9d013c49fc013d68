"""``token create|list|revoke``: manage API tokens (stored hashed; shown once)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from adapter.cli.database import open_migrated
from adapter.cli.events import changed
from adapter.cli.output import dump, local, pad
from adapter.settings import load_settings
from adapter.store.tokens import ROLES, create_token, list_tokens, revoke_token


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="manage API tokens")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, help="user or workstation, e.g. 住院处-01")
    create.add_argument(
        "--role", action="append", required=True, choices=ROLES, help="repeat for several roles"
    )
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=_revoke)


def _engine() -> Engine:
    # Never migrates: against a mistyped [database] url, migrating would create a fresh
    # database and a token in it that the server never sees. `serve` and `migrate` migrate.
    return open_migrated(load_settings().database.url)


def _create(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        token = create_token(engine, args.name, args.role, datetime.now(UTC))
    finally:
        engine.dispose()
    changed("token.created", token_name=args.name, roles=sorted(args.role))
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    zone = load_settings().zone
    engine = _engine()
    try:
        tokens = list_tokens(engine)
    finally:
        engine.dispose()
    if args.json:
        dump(tokens, zone)
        return 0
    print(f"{'id':>4}  {pad('name', 20)} {'roles':<28} {'hint':<6} {'created':<19}  status")
    for info in tokens:
        status = "revoked" if info.revoked else "active"
        print(
            f"{info.id:>4}  {pad(info.name, 20)} {','.join(info.roles):<28} …{info.hint:<5} "
            f"{local(info.created_at, zone):<19}  {status}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        revoke_token(engine, args.id, datetime.now(UTC))
    finally:
        engine.dispose()
    changed("token.revoked", token_id=args.id)
    print(f"token {args.id} revoked")
    return 0
