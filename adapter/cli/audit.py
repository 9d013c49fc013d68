"""``audit verify``: walk the audit log's hash chain; exit 1 at the first broken entry."""

from __future__ import annotations

import argparse
from typing import Any

from adapter.settings import load_settings
from adapter.store.audit import verify
from adapter.store.db import make_engine


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="the tamper-evident audit log")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("verify", help="check the hash chain of every entry")
    check.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    engine = make_engine(load_settings().database.url)
    try:
        result = verify(engine)
    finally:
        engine.dispose()
    if result.ok:
        print(f"audit log intact: {result.checked} entries checked")
        return 0
    print(f"audit log BROKEN at entry {result.broken_seq}: {result.problem}")
    return 1
