"""``migrate``: bring the configured database's schema to the newest revision (Alembic)."""

from __future__ import annotations

import argparse
from typing import Any

from adapter.cli.events import changed
from adapter.settings import load_settings


def register(subparsers: Any) -> None:
    migrate = subparsers.add_parser(
        "migrate", help="upgrade the database schema to the newest revision"
    )
    from adapter.cli import add_config_option

    add_config_option(migrate)
    migrate.add_argument(
        "--revision", default="head", help="target revision (default: head, the newest)"
    )
    migrate.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from adapter.store import migrate

    url = load_settings().database.url
    before = migrate.current(url)
    migrate.upgrade(url, args.revision)
    after = migrate.current(url)
    changed("database.migrated", before=before or "", after=after or "")
    print(f"database schema: {before or 'empty'} -> {after}")
    return 0
