"""``config init PATH``: write a commented ``adapter.toml`` and ``hl7_site.toml`` for a site."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adapter.cli.events import changed
from adapter.settings import PACKAGED_DEFAULTS

FILES = ("adapter.toml", "hl7_site.toml")


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="配置文件 / the configuration files")
    commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    init = commands.add_parser(
        "init",
        help="在目录中写入带注释的 adapter.toml 与 hl7_site.toml / write the commented "
        "adapter.toml and hl7_site.toml into a folder",
    )
    init.add_argument("path", type=Path, help="the folder (created if missing)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    folder: Path = args.path.expanduser().resolve()
    existing = [name for name in FILES if (folder / name).exists()]
    if existing and not args.force:
        print(f"wi-adapter: {folder / existing[0]} exists; --force overwrites it")
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (folder / name).write_text(
            (PACKAGED_DEFAULTS / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    config = folder / "adapter.toml"
    changed("config.written", folder=str(folder), overwritten=existing)
    print(f"wrote {config} and {folder / 'hl7_site.toml'}")
    print("  set [institution] and [upstream] for this site, then:")
    print(f"  wi-adapter --config {config} migrate")
    print(f"  wi-adapter serve --config {config}")
    return 0
