"""``audit verify|anchor|rotate-key``: the keyed, tamper-evident audit log.

* ``verify [--anchor FILE]…`` walks the chain with the audit key(s) and, given anchor files,
  checks that every anchored head is still there unchanged; exit 1 at the first break.
* ``anchor`` appends the chain's head to the anchor file (``[audit] anchor_file``) and logs it;
  the running adapter does this every ``anchor_minutes`` too.
* ``rotate-key`` adds a new key to the key file; new entries are signed with it, old entries
  keep verifying with theirs (docs/operations.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adapter.cli.database import open_migrated
from adapter.cli.events import changed
from adapter.settings import load_settings
from adapter.store.audit import installed_keyring, verify
from adapter.store.audit_anchor import AnchorFileError, read_anchors, write_anchor
from adapter.store.audit_keys import rotate_key


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="the tamper-evident audit log")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("verify", help="check the keyed hash chain of every entry")
    check.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="FILE",
        help="an anchor file (shipped off the host); repeat for several",
    )
    check.set_defaults(handler=_verify)
    anchor = actions.add_parser("anchor", help="write the chain's head to the anchor file now")
    anchor.set_defaults(handler=_anchor)
    rotate = actions.add_parser("rotate-key", help="add a new audit key; old entries keep theirs")
    rotate.set_defaults(handler=_rotate)


def _verify(args: argparse.Namespace) -> int:
    engine = open_migrated(load_settings().database.url)
    try:
        keyring = installed_keyring(engine)
        try:
            anchors = [a for name in args.anchor for a in read_anchors(Path(name), keyring)]
        except (OSError, AnchorFileError) as exc:
            print(f"audit anchors unreadable: {exc}")
            return 1
        result = verify(engine, keyring=keyring, anchors=anchors)
    finally:
        engine.dispose()
    if result.ok:
        against = f", {len(anchors)} anchors matched" if args.anchor else ""
        print(f"audit log intact: {result.checked} entries checked{against}")
        return 0
    print(f"audit log BROKEN at entry {result.broken_seq}: {result.problem}")
    return 1


def _anchor(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = open_migrated(settings.database.url)
    try:
        written = write_anchor(
            engine, installed_keyring(engine), settings.audit.anchor_path(settings.data_dir)
        )
    finally:
        engine.dispose()
    print(f"audit anchor written to {written.path}: {written.seq} entries, head {written.hash}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = settings.audit.key_path(settings.data_dir)
    keyring = rotate_key(path)
    changed("audit.key_rotated", key_id=keyring.current, key_file=str(path))
    print(
        f"audit key {keyring.current} added to {path}; new entries are signed with it."
        " Restart every instance, then copy the key file to its safe place again."
    )
    return 0
